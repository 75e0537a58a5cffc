package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
)

// cannedResponse is an answer of the real server, which the bare handler repeats.
type cannedResponse struct {
	Status int                 `json:"status"`
	Header map[string][]string `json:"header"`
	Body   string              `json:"body"`
}

// serveBare runs the bare handler: plain net/http, no routing beyond a map lookup,
// answering each method and path with the server's recorded answer (same status,
// headers and body, so the same size), after reading the request body as the server
// does. It serves on addr (127.0.0.1) until killed.
func serveBare(cannedPath, addr string) error {
	b, err := os.ReadFile(cannedPath)
	if err != nil {
		return err
	}
	var canned map[string]cannedResponse
	if err := json.Unmarshal(b, &canned); err != nil {
		return err
	}
	type answer struct {
		status int
		header map[string][]string
		body   []byte
		length []string
	}
	answers := map[string]*answer{}
	for key, c := range canned {
		answers[key] = &answer{status: c.Status, header: c.Header, body: []byte(c.Body),
			length: []string{strconv.Itoa(len(c.Body))}}
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		a, ok := answers[r.Method+" "+r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		hdr := w.Header()
		for k, v := range a.header {
			hdr[k] = v
		}
		if a.status != http.StatusNoContent {
			hdr["Content-Length"] = a.length
		}
		w.WriteHeader(a.status)
		w.Write(a.body)
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return http.Serve(ln, h)
}
