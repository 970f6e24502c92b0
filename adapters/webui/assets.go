package webui

import (
	"bytes"
	"compress/gzip"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

// ContentSecurityPolicy lets the pages run only the node's own script and
// style files (no inline script or style, no eval), talk only to the node,
// and not be framed.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

// asset is one embedded file, with its gzip form made once.
type asset struct {
	body, gz    []byte
	contentType string
}

// loadAssets reads every embedded file under assets/ and gzips it.
func loadAssets() (map[string]asset, error) {
	out := map[string]asset{}
	if !Included {
		return out, nil
	}
	err := fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(assets, p)
		if err != nil {
			return err
		}
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		_, _ = zw.Write(body)
		if err := zw.Close(); err != nil {
			return err
		}
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = "application/octet-stream"
		}
		out[strings.TrimPrefix(p, "assets/")] = asset{body: body, gz: gz.Bytes(), contentType: ct}
		return nil
	})
	return out, err
}

// GzippedSize is the dashboard's size as sent to a browser: every asset
// gzipped (the size budget's measure).
func GzippedSize() (int, error) {
	as, err := loadAssets()
	n := 0
	for _, a := range as {
		n += len(a.gz)
	}
	return n, err
}

// securityHeaders go on every answer under /ui/.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

// serveAsset answers one file, gzipped when the browser takes it. The
// files change only with the binary, so browsers revalidate each time
// (no-cache) rather than keep a stale dashboard after an upgrade.
func serveAsset(w http.ResponseWriter, r *http.Request, a asset) {
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", "no-cache")
	h.Add("Vary", "Accept-Encoding")
	body := a.body
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		h.Set("Content-Encoding", "gzip")
		body = a.gz
	}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}
