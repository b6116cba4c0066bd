# The classroom exercise's client, as a student writes it with Python's
# socket module: connect, sendall, recv(1024), print, close.
# Usage: python3 cliente.py PORT [MESSAGE]
import socket
import sys

HOST = "127.0.0.1"
PORT = int(sys.argv[1])
MENSAGEM = sys.argv[2] if len(sys.argv) > 2 else "Olá Servidor, meu nome é Cliente e sou o único aqui."

with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.settimeout(10)
    s.connect((HOST, PORT))
    s.sendall(MENSAGEM.encode())
    dados = s.recv(1024)

print("Mensagem ecoada:", dados.decode())
