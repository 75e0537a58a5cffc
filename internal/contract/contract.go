// Package contract prepares the vroauth contract, api/openapi.yaml, for validation with
// kin-openapi's openapi3filter. It is shared by the two validators of the project: the
// server's optional request validator (`vroauth serve --validate-requests`) and the
// tests' validating transport (package apitest), so that both read the contract the
// same way.
package contract

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/vroauth/vroauth/api"
)

// GUIDPattern is what `format: uuid` means in the contract: a GUID in its usual textual
// form, upper- or lower-case, with no constraint on the version bits (the Orchestrator
// is a .NET server, and a GUID need not be an RFC 9562 UUID).
const GUIDPattern = `^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`

// SchemaOptions are the schema validation options the contract needs: `format: uuid`
// is checked with GUIDPattern. openapi3 leaves formats it does not know unchecked, and
// defining one globally would change every other user of kin-openapi in the binary, so
// the validator is passed per validation.
func SchemaOptions() []openapi3.SchemaValidationOption {
	return []openapi3.SchemaValidationOption{
		openapi3.WithStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(GUIDPattern)),
	}
}

// Contract is the loaded contract and a router over its operations.
type Contract struct {
	Doc    *openapi3.T
	Router routers.Router
}

var (
	once     sync.Once
	loaded   *Contract
	errLoads error
)

// Load returns the contract, loaded and validated once per process. Its Router finds
// operations on any host: the spec's servers list (the Orchestrator's default address)
// is left out of routing so that every address of a test or real server matches.
//
// Load also registers FormDecoder as openapi3filter's decoder of multipart/form-data.
// openapi3filter's body decoders are a process-wide registry; see FormDecoder for why
// it replaces the default.
func Load() (*Contract, error) {
	once.Do(func() {
		openapi3filter.RegisterBodyDecoder("multipart/form-data", FormDecoder)
		loaded, errLoads = load(api.OpenAPIYAML)
	})
	return loaded, errLoads
}

func load(yaml []byte) (*Contract, error) {
	doc, err := openapi3.NewLoader().LoadFromData(yaml)
	if err != nil {
		return nil, fmt.Errorf("contract: load: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("contract: invalid: %w", err)
	}
	routed := *doc
	routed.Servers = nil
	router, err := legacy.NewRouter(&routed)
	if err != nil {
		return nil, fmt.Errorf("contract: route: %w", err)
	}
	return &Contract{Doc: doc, Router: router}, nil
}

// FormDecoder is an openapi3filter.BodyDecoder for multipart/form-data that reads the
// form's text fields and decodes them exactly as an application/x-www-form-urlencoded
// body. openapi3filter's own multipart decoder refuses any part the schema does not
// name unless the schema says `additionalProperties: true` explicitly, while its
// urlencoded decoder ignores such fields, as JSON Schema does when additionalProperties
// is left out; the token form is the same in both encodings (the VRO documentation
// names both), so it is checked the same way. A part with a file name is refused: the
// contract's forms hold text fields only.
func FormDecoder(body io.Reader, header http.Header, schema *openapi3.SchemaRef, encFn openapi3filter.EncodingFn) (any, error) {
	_, params, err := mime.ParseMediaType(header.Get("Content-Type"))
	if err != nil {
		return nil, err
	}
	if params["boundary"] == "" {
		return nil, errors.New("the multipart boundary is missing")
	}
	values := url.Values{}
	mr := multipart.NewReader(body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if part.FileName() != "" {
			return nil, fmt.Errorf("part %s: a file where a text field is expected", part.FormName())
		}
		b, err := io.ReadAll(part)
		if err != nil {
			return nil, err
		}
		values.Add(part.FormName(), string(b))
	}
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	return openapi3filter.UrlencodedBodyDecoder(bytes.NewReader([]byte(values.Encode())), h, schema, encFn)
}
