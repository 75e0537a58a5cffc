package contract_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"reflect"
	"testing"

	"github.com/vroauth/vroauth/internal/contract"
)

func TestLoad(t *testing.T) {
	c, err := contract.Load()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, path := range []string{"/api/token", "/api/logout", "/api/revoke", "/api/v7.1/Clients"} {
		item := c.Doc.Paths.Find(path)
		if item == nil {
			t.Fatalf("Load: no path %s", path)
		}
		for _, m := range []string{"POST", "GET", "DELETE"} {
			if op := item.GetOperation(m); op != nil {
				ids = append(ids, op.OperationID)
			}
		}
	}
	if want := []string{"IssueToken", "Logout", "RevokeToken", "CreateClient", "ListClients", "DeleteClient"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("operations = %v; want %v", ids, want)
	}
	// Any host routes: the spec's own server (https://localhost:9898) must not matter.
	req, _ := http.NewRequest("DELETE", "http://127.0.0.1:1234/api/v7.1/Clients?clientId=x", nil)
	route, _, err := c.Router.FindRoute(req)
	if err != nil || route.Operation.OperationID != "DeleteClient" {
		t.Errorf("FindRoute(DELETE http://127.0.0.1:1234/api/v7.1/Clients) = %v, %v; want DeleteClient", route, err)
	}
}

func form(t *testing.T, file bool, fields ...string) (http.Header, *bytes.Buffer) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for i := 0; i < len(fields); i += 2 {
		mw.WriteField(fields[i], fields[i+1])
	}
	if file {
		fw, _ := mw.CreateFormFile("password", "pw.txt")
		fw.Write([]byte("pw"))
	}
	mw.Close()
	return http.Header{"Content-Type": {mw.FormDataContentType()}}, &b
}

func TestFormDecoder(t *testing.T) {
	c, err := contract.Load()
	if err != nil {
		t.Fatal(err)
	}
	schema := c.Doc.Components.Schemas["TokenRequest"]
	t.Run("OK", func(t *testing.T) {
		h, body := form(t, false, "grant_type", "password", "username", `CORP\jsmith`, "password", "pw", "scope", "ignored")
		got, err := contract.FormDecoder(body, h, schema, nil)
		want := map[string]any{"grant_type": "password", "username": `CORP\jsmith`, "password": "pw"}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("FormDecoder = %v, %v; want %v", got, err, want)
		}
	})
	t.Run("ErrFile", func(t *testing.T) {
		h, body := form(t, true, "grant_type", "password")
		if got, err := contract.FormDecoder(body, h, schema, nil); err == nil {
			t.Errorf("FormDecoder(a file part) = %v, nil; want an error", got)
		}
	})
	t.Run("ErrNoBoundary", func(t *testing.T) {
		_, body := form(t, false, "grant_type", "password")
		h := http.Header{"Content-Type": {"multipart/form-data"}}
		if got, err := contract.FormDecoder(body, h, schema, nil); err == nil {
			t.Errorf("FormDecoder(no boundary) = %v, nil; want an error", got)
		}
	})
	t.Run("ErrBroken", func(t *testing.T) {
		h := http.Header{"Content-Type": {"multipart/form-data; boundary=xyz"}}
		if got, err := contract.FormDecoder(bytes.NewBufferString("--xyz\r\nbroken"), h, schema, nil); err == nil {
			t.Errorf("FormDecoder(broken) = %v, nil; want an error", got)
		}
	})
}
