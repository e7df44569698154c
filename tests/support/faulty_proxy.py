#!/usr/bin/env python3
"""A misbehaving HTTP proxy in front of a test registry (stdlib only, 127.0.0.1 only).

Faults it injects, each logged as one "FAULT ..." line on stdout:
  --fail-503 N          the first N requests (optionally only --fail-method M) answer 503
  --fail-skip K         ... after letting K matching requests through
  --drop-blob-get N     the first N blob GETs send half the body, then drop the connection
  --ignore-range        strip Range from blob GETs (a server that always answers 200)
  --bearer USER:PASS    the registry demands a Bearer token from /token (Basic USER:PASS)
GET /healthz answers 200 so the test can wait for it.
"""
import argparse
import base64
import http.client
import http.server
import secrets
import sys
import threading

HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
       "transfer-encoding", "upgrade"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--upstream", required=True)  # host:port
    ap.add_argument("--fail-503", type=int, default=0)
    ap.add_argument("--fail-method", default="")
    ap.add_argument("--fail-skip", type=int, default=0)
    ap.add_argument("--drop-blob-get", type=int, default=0)
    ap.add_argument("--ignore-range", action="store_true")
    ap.add_argument("--bearer", default="")
    args = ap.parse_args()
    lock = threading.Lock()
    state = {"fail": args.fail_503, "skip": args.fail_skip, "drop": args.drop_blob_get, "tokens": set()}

    def log(*parts):
        with lock:
            print(*parts, flush=True)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):  # quiet
            pass

        def _read_body(self):
            n = int(self.headers.get("Content-Length") or 0)
            while n > 0:
                chunk = self.rfile.read(min(n, 1 << 20))
                if not chunk:
                    return
                n -= len(chunk)
                yield chunk

        def _reply(self, status, body=b"", headers=()):
            for _ in self._read_body():
                pass
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _take(self, key):
            with lock:
                if state[key] > 0:
                    state[key] -= 1
                    return True
            return False

        def _handle(self):
            if self.path == "/healthz":
                return self._reply(200, b"ok")
            if args.bearer and self.path.startswith("/token"):
                user_pass = base64.b64encode(args.bearer.encode()).decode()
                if self.headers.get("Authorization") != "Basic " + user_pass:
                    log("TOKEN refused")
                    return self._reply(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}')
                tok = secrets.token_hex(16)
                with lock:
                    state["tokens"].add(tok)
                log("TOKEN issued", self.path)
                return self._reply(200, ('{"token":"%s","expires_in":300}' % tok).encode(),
                                   [("Content-Type", "application/json")])
            if args.bearer:
                auth = self.headers.get("Authorization", "")
                if not (auth.startswith("Bearer ") and auth[7:] in state["tokens"]):
                    realm = "http://127.0.0.1:%d/token" % args.port
                    return self._reply(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', [
                        ("WWW-Authenticate", 'Bearer realm="%s",service="weightgate-test"' % realm),
                        ("Content-Type", "application/json")])
            matches = not args.fail_method or self.command == args.fail_method
            if matches and self._take("skip"):
                return self._forward()
            if matches and self._take("fail"):
                log("FAULT 503", self.command, self.path)
                return self._reply(503, b'{"errors":[{"code":"UNAVAILABLE","message":"injected"}]}',
                                   [("Content-Type", "application/json")])
            self._forward()

        def _forward(self):
            up = http.client.HTTPConnection(args.upstream, timeout=60)
            up.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for k, v in self.headers.items():
                if k.lower() in HOP or (args.bearer and k.lower() == "authorization"):
                    continue
                if args.ignore_range and k.lower() == "range" and "/blobs/sha256:" in self.path:
                    log("FAULT range ignored", self.path)
                    continue
                up.putheader(k, v)
            up.endheaders()
            for chunk in self._read_body():
                up.send(chunk)
            resp = up.getresponse()
            drop = (self.command == "GET" and "/blobs/sha256:" in self.path and resp.status in (200, 206)
                    and self._take("drop"))
            self.send_response(resp.status)
            length = resp.getheader("Content-Length")
            for k, v in resp.getheaders():
                if k.lower() in HOP:
                    continue
                self.send_header(k, v)
            body_expected = self.command != "HEAD" and resp.status not in (204, 304)
            if length is None and body_expected:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if not body_expected:
                up.close()
                return
            total = int(length) if length is not None else None
            sent = 0
            while True:
                chunk = resp.read(1 << 16)
                if not chunk:
                    break
                if drop and total is not None and sent + len(chunk) > total // 2:
                    keep = total // 2 - sent
                    self.wfile.write(chunk[:keep])
                    self.wfile.flush()
                    log("FAULT drop", self.path, "after", sent + keep, "of", total)
                    self.close_connection = True
                    up.close()
                    return
                self.wfile.write(chunk)
                sent += len(chunk)
            up.close()

        do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _handle

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    log("LISTEN", args.port)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
