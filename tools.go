//go:build tools

package vroauth

// The code generator, pinned by go.mod so that every machine generates the same gen/.
import _ "github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen"
