# cliente.py — o cliente do exercício, como um aluno o escreve.
# Rode-o sob o eco junto com o servidor:
#     eco trace --run 'python3 servidor.py' --run 'python3 cliente.py'
# Uso: python3 cliente.py [PORTA]   (padrão: 5050)
import socket
import sys

HOST = "127.0.0.1"
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 5050

with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    # connect(): o kernel envia SYN e volta quando o handshake terminou.
    s.connect((HOST, PORT))
    # 52 caracteres, 55 bytes em UTF-8 (á, é e ú ocupam dois bytes cada).
    s.sendall("Olá Servidor, meu nome é Cliente e sou o único aqui.".encode())
    dados = s.recv(1024)
# Sair do "with" chama close(): o kernel envia FIN.

print("Mensagem ecoada:", dados.decode())
