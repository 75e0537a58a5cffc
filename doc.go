// Package vroauth is the authentication surface of the Veeam Recovery Orchestrator REST
// API: the OpenAPI contract in api/, the client and server skeleton generated from it
// in [github.com/vroauth/vroauth/gen], the bearer middleware and refreshing transport in
// [github.com/vroauth/vroauth/auth], and the reference server cmd/vroauth.
//
// This root package holds no code: only the go:generate directive that regenerates gen/
// from api/openapi.yaml, and the pin of the generator's version.
package vroauth
