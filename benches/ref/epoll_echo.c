#define _GNU_SOURCE
/* The near-syscall reference: one thread, level-triggered epoll,
 * non-blocking sockets; per readable event one read() and one write()
 * (the rest of a partial write waits for EPOLLOUT). No framing.
 * Usage: epoll_echo PORT */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF 65536
struct conn { int fd; size_t len, off; char buf[BUF]; };

static void closeconn(int ep, struct conn *c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  free(c);
}

int main(int argc, char **argv) {
  int port = argc > 1 ? atoi(argv[1]) : 5050;
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(lfd, (struct sockaddr *)&a, sizeof a) || listen(lfd, 4096)) { perror("listen"); return 1; }
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  struct epoll_event evs[1024];
  for (;;) {
    int n = epoll_wait(ep, evs, 1024, -1);
    for (int i = 0; i < n; i++) {
      struct conn *c = evs[i].data.ptr;
      if (!c) {
        int fd;
        while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          struct conn *nc = malloc(sizeof *nc);
          nc->fd = fd; nc->len = nc->off = 0;
          struct epoll_event e = {.events = EPOLLIN, .data.ptr = nc};
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
        }
        continue;
      }
      if (c->len > c->off) { /* finishing a partial write */
        ssize_t w = write(c->fd, c->buf + c->off, c->len - c->off);
        if (w < 0 && errno != EAGAIN) { closeconn(ep, c); continue; }
        if (w > 0) c->off += w;
        if (c->off == c->len) {
          c->len = c->off = 0;
          struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
          epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
        }
        continue;
      }
      ssize_t r = read(c->fd, c->buf, BUF);
      if (r == 0 || (r < 0 && errno != EAGAIN)) { closeconn(ep, c); continue; }
      if (r < 0) continue;
      ssize_t w = write(c->fd, c->buf, r);
      if (w < 0 && errno != EAGAIN) { closeconn(ep, c); continue; }
      if (w < r) {
        c->len = r; c->off = w > 0 ? w : 0;
        struct epoll_event e = {.events = EPOLLOUT, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
      }
    }
  }
}
