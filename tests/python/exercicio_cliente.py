# The exercise's cliente.py as a student writes it, to be run under
# `eco trace --run`: connect, send the message, print the echo, close.
# Usage: python3 exercicio_cliente.py [PORT]
import socket
import sys

HOST = "127.0.0.1"
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 5050

with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.connect((HOST, PORT))
    s.sendall("Olá Servidor, meu nome é Cliente e sou o único aqui.".encode())
    dados = s.recv(1024)

print("Mensagem ecoada:", dados.decode())
