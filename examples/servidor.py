# servidor.py — o servidor do exercício, como um aluno o escreve.
# Rode-o sob o eco para ver as chamadas e os pacotes:
#     eco trace --run 'python3 servidor.py' --run 'python3 cliente.py'
# Uso: python3 servidor.py [PORTA]   (padrão: 5050)
import socket
import sys

HOST = "127.0.0.1"
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 5050

# socket(): um socket TCP/IPv4. bind(): o endereço onde esperar.
# listen(): a partir daqui o kernel completa o three-way handshake sozinho.
with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.bind((HOST, PORT))
    s.listen()
    print("Aguardando conexão de um cliente ...")
    # accept(): devolve uma conexão cujo handshake já terminou.
    conn, endereco = s.accept()
    with conn:
        print("Conectado em", endereco)
        while True:
            # recv(): até 1024 bytes do que chegou; b"" quando o cliente
            # fechou (o FIN dele chegou).
            dados = conn.recv(1024)
            if not dados:
                break
            conn.sendall(dados)  # o eco: os mesmos bytes de volta
    # Sair do "with" chama close(): o kernel envia o nosso FIN.
    print("Conexão fechada :)")
