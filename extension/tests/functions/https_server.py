"""A local HTTPS server for the dependency-proxy tests.

Usage: https_server.py PORT [CERTFILE KEYFILE]
Answers every GET with 200 `hello over tls <path>` (`hello over http <path>` without a
certificate: plain HTTP); prints `listening` once bound.
"""

import http.server
import ssl
import sys


TLS = False


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        scheme = "tls" if TLS else "http"
        body = f"hello over {scheme} {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    global TLS
    port = int(sys.argv[1])
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    if len(sys.argv) > 3:
        TLS = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(sys.argv[2], sys.argv[3])
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print("listening", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
