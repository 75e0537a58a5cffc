package server

import (
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/swaggest/swgui"
	"github.com/swaggest/swgui/v5emb"

	"github.com/vroauth/vroauth/api"
	"github.com/vroauth/vroauth/gen"
)

// spec is the contract as the generated code embeds it.
var spec = mustSpec()

func mustSpec() *openapi3.T {
	doc, err := gen.GetSwagger()
	if err != nil {
		panic("server: the embedded spec does not load: " + err.Error()) // a build defect
	}
	return doc
}

// publicOperations returns "METHOD /path" for every operation the spec marks
// `security: []`.
func publicOperations() map[string]bool {
	public := map[string]bool{}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			if op.Security != nil && len(*op.Security) == 0 {
				public[method+" "+path] = true
			}
		}
	}
	return public
}

// apiMethods returns, for every path of the spec, its methods as an Allow header.
func apiMethods() map[string]string {
	allow := map[string]string{}
	for path, item := range spec.Paths.Map() {
		var methods []string
		for method := range item.Operations() {
			methods = append(methods, method)
		}
		sort.Strings(methods)
		allow[path] = strings.Join(methods, ", ")
	}
	return allow
}

// mountDocs serves the contract and its Swagger UI (the health checks are in health.go).
func (s *Server) mountDocs(mux *http.ServeMux) {
	mux.HandleFunc("GET /openapi.yaml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		w.Write(api.OpenAPIYAML)
	})
	specJSON := mustUIJSON()
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(specJSON)
	})
	mux.Handle("/swagger/", v5emb.NewHandlerWithConfig(swgui.Config{
		Title:       "vroauth — VRO authentication API",
		SwaggerJSON: "/openapi.json",
		BasePath:    "/swagger/",
		SettingsUI:  map[string]string{"persistAuthorization": "false", "tryItOutEnabled": "true"},
	}))
	mux.HandleFunc("GET /swagger", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/swagger/", http.StatusMovedPermanently)
	})
}

// mustUIJSON returns the contract as JSON for the Swagger UI, with this server first
// in its server list so that "Try it out" calls the server that serves the page, and
// with the OAuth2 flows offered wherever the bearer scheme is asked for.
func mustUIJSON() []byte {
	doc := *spec
	doc.Servers = slices.Insert(slices.Clone(doc.Servers), 0, &openapi3.Server{URL: "/", Description: "This server"})
	doc.Security = withOAuthFlows(doc.Security, doc.Components)
	b, err := json.Marshal(&doc)
	if err != nil {
		panic("server: the embedded spec does not marshal: " + err.Error())
	}
	return b
}

// withOAuthFlows returns the global security requirements with each OAuth2 scheme of
// the contract added as an alternative. The contract asks the operations for a bearer
// token (bearerAuth) and describes with the OAuth2 schemes how POST /api/token issues
// one; the Swagger UI sends a token obtained through "Authorize" only to operations
// that list the scheme it came from, so without this a person who authorized with the
// password flow would get 401 from "Try it out". Operations with their own security
// (the public ones, `security: []`) are left as they are.
func withOAuthFlows(reqs openapi3.SecurityRequirements, c *openapi3.Components) openapi3.SecurityRequirements {
	if len(reqs) == 0 || c == nil {
		return reqs
	}
	var names []string
	for name, ref := range c.SecuritySchemes {
		if ref != nil && ref.Value != nil && ref.Value.Type == "oauth2" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	out := slices.Clone(reqs)
	for _, name := range names {
		out = append(out, openapi3.SecurityRequirement{name: []string{}})
	}
	return out
}
