/* The exercise's client in C, to be run under `eco trace --run`:
 * socket, connect, write, read, close, with the plain system calls.
 * Usage: cliente PORT */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    const char *message = "Ola, C";
    char echo[1024];
    struct sockaddr_in server = {0};
    server.sin_family = AF_INET;
    server.sin_port = htons(argc > 1 ? atoi(argv[1]) : 5050);
    inet_pton(AF_INET, "127.0.0.1", &server.sin_addr);

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&server, sizeof server) < 0) {
        perror("connect");
        return 1;
    }
    if (write(fd, message, strlen(message)) != (ssize_t)strlen(message)) {
        perror("write");
        return 1;
    }
    ssize_t n = read(fd, echo, sizeof echo - 1);
    if (n < 0) {
        perror("read");
        return 1;
    }
    echo[n] = 0;
    printf("echo: %s\n", echo);
    close(fd);
    return 0;
}
