# The exercise's servidor.py as a student writes it, to be run under
# `eco trace --run`: wait on HOST:PORT, echo what one client sends until
# it closes, close. Usage: python3 exercicio_servidor.py [PORT]
import socket
import sys

HOST = "127.0.0.1"
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 5050

with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.bind((HOST, PORT))
    s.listen()
    print("Aguardando conexão de um cliente ...")
    conn, endereco = s.accept()
    with conn:
        print("Conectado em", endereco)
        while True:
            dados = conn.recv(1024)
            if not dados:
                break
            conn.sendall(dados)
    print("Conexão fechada :)")
