# The classroom exercise's server, as a student writes it with Python's
# socket module: one client, one recv(1024), sendall, close.
# Prints the chosen port on its first line, then the exercise's transcript.
# Usage: python3 servidor.py
import socket

HOST = "127.0.0.1"
PORT = 0  # any free port; the exercise used 5050

with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.bind((HOST, PORT))
    s.listen()
    print("port", s.getsockname()[1], flush=True)
    print("Aguardando conexão de um cliente ...", flush=True)
    conn, endereco = s.accept()
    with conn:
        print("Conectado em", endereco, flush=True)
        dados = conn.recv(1024)
        conn.sendall(dados)
    print("Conexão fechada :)", flush=True)
