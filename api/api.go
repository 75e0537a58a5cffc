// Package api holds the OpenAPI contract of vroauth, api/openapi.yaml, and the
// configuration that generates package gen from it. The contract is embedded so that
// servers can publish it byte for byte.
package api

import _ "embed"

// OpenAPIYAML is api/openapi.yaml as written.
//
//go:embed openapi.yaml
var OpenAPIYAML []byte
