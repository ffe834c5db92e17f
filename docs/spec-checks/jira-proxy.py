# Jira: /rest/agile/* -> Jira Software mock, the rest -> platform mock; /rest/api/3/search/* -> STUB.
# Usage: python3 jira-proxy.py <platform-port> <software-port> <listen-port>
import http.server, urllib.request, sys, json
PLAT, SOFT, PORT = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
class H(http.server.BaseHTTPRequestHandler):
    def _go(self):
        port = SOFT if self.path.startswith('/rest/agile/') else PLAT
        n = int(self.headers.get('content-length') or 0)
        body = self.rfile.read(n) if n else None
        # STUB (not spec-checked): the 2022 swagger predates /search/jql and /search/approximate-count.
        if self.path.startswith('/rest/api/3/search/'):
            sys.stderr.write('STUB %s %s\n' % (self.path, body)); sys.stderr.flush()
            data = json.dumps({'count': 3} if 'approximate' in self.path else {'issues': [], 'isLast': True}).encode()
            self.send_response(200); self.send_header('content-type', 'application/json')
            self.send_header('content-length', str(len(data))); self.end_headers(); self.wfile.write(data); return
        req = urllib.request.Request(f'http://127.0.0.1:{port}{self.path}', data=body, method=self.command)
        for k, v in self.headers.items():
            if k.lower() not in ('host', 'content-length', 'connection'): req.add_header(k, v)
        try: r = urllib.request.urlopen(req)
        except urllib.error.HTTPError as e: r = e
        data = r.read(); self.send_response(r.status)
        for k, v in r.headers.items():
            if k.lower() not in ('transfer-encoding', 'connection', 'content-length'): self.send_header(k, v)
        self.send_header('content-length', str(len(data))); self.end_headers(); self.wfile.write(data)
    do_GET = do_POST = _go
http.server.ThreadingHTTPServer(('127.0.0.1', PORT), H).serve_forever()
