package main

import "time"

// httpLimits bounds what one connection may hold of the server, so that slow or idle
// clients (slow-loris) cannot tie it up.
type httpLimits struct {
	readHeader     time.Duration // to receive the request line and headers
	read           time.Duration // to receive the whole request, body included
	write          time.Duration // from the end of the headers to the end of the answer
	idle           time.Duration // between two requests of a kept-alive connection
	maxHeaderBytes int
}

// defaultHTTPLimits are the limits of `vroauth serve`. The largest request body is
// bounded separately (server.MaxBodyBytes).
var defaultHTTPLimits = httpLimits{
	readHeader:     5 * time.Second,
	read:           15 * time.Second,
	write:          30 * time.Second,
	idle:           120 * time.Second,
	maxHeaderBytes: 16 << 10,
}

// orDefault returns l, or defaultHTTPLimits if l is the zero value.
func (l httpLimits) orDefault() httpLimits {
	if l == (httpLimits{}) {
		return defaultHTTPLimits
	}
	return l
}
