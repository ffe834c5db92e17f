# Datadog: /api/v2/usage/estimated_cost -> v2 excerpt mock; /api/v2/validate_keys -> STUB (not in the
# published v2 description); everything else -> the v1 Prism mock. Logs each request.
# Usage: python3 dd-proxy.py <v1-port> <v2-excerpt-port> <listen-port>
import http.server, urllib.request, sys, json
V1, V2, PORT = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
class H(http.server.BaseHTTPRequestHandler):
    def _go(self):
        sys.stderr.write('REQ %s %s\n' % (self.command, self.path)); sys.stderr.flush()
        if self.path.startswith('/api/v2/validate_keys'):
            data = b'{"status":"ok"}'; self.send_response(200); self.send_header('content-type', 'application/json')
            self.send_header('content-length', str(len(data))); self.end_headers(); self.wfile.write(data); return
        port = V2 if self.path.startswith('/api/v2/usage/estimated_cost') else V1
        req = urllib.request.Request(f'http://127.0.0.1:{port}{self.path}', method=self.command)
        for k, v in self.headers.items():
            if k.lower() not in ('host', 'content-length', 'connection'): req.add_header(k, v)
        try: r = urllib.request.urlopen(req)
        except urllib.error.HTTPError as e: r = e
        data = r.read(); self.send_response(r.status)
        for k, v in r.headers.items():
            if k.lower() not in ('transfer-encoding', 'connection', 'content-length'): self.send_header(k, v)
        self.send_header('content-length', str(len(data))); self.end_headers(); self.wfile.write(data)
    do_GET = _go
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(('127.0.0.1', PORT), H).serve_forever()
