package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/notary-dev/notary/api"
)

type openAPIDoc struct {
	OpenAPI    string                          `json:"openapi"`
	Paths      map[string]map[string]openAPIOp `json:"paths"`
	Components struct {
		Schemas map[string]json.RawMessage `json:"schemas"`
	} `json:"components"`
}

type openAPIOp struct {
	OperationID string                     `json:"operationId"`
	Responses   map[string]openAPIResponse `json:"responses"`
	Security    []map[string][]string      `json:"security"`
}

type openAPIResponse struct {
	Description string   `json:"description"`
	ErrorCodes  []string `json:"x-error-codes"`
}

func loadOpenAPI(t *testing.T, b []byte) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi %q, want 3.x", doc.OpenAPI)
	}
	return doc
}

var echoParam = regexp.MustCompile(`:([A-Za-z_]+)`)

// TestOpenAPIMatchesRoutes walks the routes of the API and the paths of its OpenAPI
// document: each must have the other.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	s := newStack(t, stackConfig{})
	h := api.New(api.Config{Service: s.svc, Chain: newFakeChain(s.svc)})
	e, ok := h.(*echo.Echo)
	if !ok {
		t.Fatalf("api.New returns a %T, not an *echo.Echo", h)
	}
	routes := map[string]bool{}
	for _, r := range e.Routes() {
		path := echoParam.ReplaceAllString(r.Path, "{$1}")
		path = strings.Replace(path, "/*", "/{path}", 1) // a wildcard, named path in the document
		routes[strings.ToLower(r.Method)+" "+path] = true
	}
	// Every GET route answers HEAD too (HTTP's HEAD is GET without the body), which the
	// document does not repeat.
	heads := map[string]bool{}
	for r := range routes {
		if path, ok := strings.CutPrefix(r, "head "); ok {
			heads[path] = true
			delete(routes, r)
		}
	}
	for r := range routes {
		if path, ok := strings.CutPrefix(r, "get "); ok && !heads[path] {
			t.Errorf("GET %s does not answer HEAD", path)
		}
	}
	for path := range heads {
		if !routes["get "+path] {
			t.Errorf("HEAD %s without GET", path)
		}
	}
	doc := loadOpenAPI(t, api.OpenAPI())
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			documented[method+" "+path] = true
			if op.OperationID == "" || len(op.Responses) == 0 {
				t.Errorf("%s %s: no operationId or responses", method, path)
			}
		}
	}
	for r := range routes {
		if !documented[r] {
			t.Errorf("route %s is not in openapi.json", r)
		}
	}
	for d := range documented {
		if !routes[d] {
			t.Errorf("openapi.json documents %s, which the server does not route", d)
		}
	}

	// The served document is the embedded one.
	r := do(t, http.DefaultClient, http.MethodGet, serve(t, h)+"/v1/openapi.json", "", nil)
	if r.status != 200 || string(r.body) != string(api.OpenAPI()) || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Errorf("GET /v1/openapi.json: status %d, Content-Type %q", r.status, r.header.Get("Content-Type"))
	}
}

// TestOpenAPIErrorCodes checks that every error code the document names exists, with the
// status it is documented under, and that every code of the API is in the document.
func TestOpenAPIErrorCodes(t *testing.T) {
	codes := api.ErrorCodes()
	doc := loadOpenAPI(t, api.OpenAPI())
	for path, ops := range doc.Paths {
		for method, op := range ops {
			for status, resp := range op.Responses {
				n, err := strconv.Atoi(status)
				if err != nil {
					t.Errorf("%s %s: response %q", method, path, status)
				}
				for _, code := range resp.ErrorCodes {
					want, ok := codes[code]
					switch {
					case !ok:
						t.Errorf("%s %s %s: code %q does not exist", method, path, status, code)
					case want != n:
						t.Errorf("%s %s: code %q is documented under %d but answered with %d", method, path, code, n, want)
					}
				}
				if n >= 400 && strings.HasPrefix(path, "/v1/") && len(resp.ErrorCodes) == 0 {
					t.Errorf("%s %s %s: an error response without x-error-codes", method, path, status)
				}
			}
		}
	}
	var errSchema struct {
		Properties struct {
			Code struct {
				Enum []string `json:"enum"`
			} `json:"code"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(doc.Components.Schemas["Error"], &errSchema); err != nil {
		t.Fatal(err)
	}
	enum := slices.Sorted(slices.Values(errSchema.Properties.Code.Enum))
	var all []string
	for code := range codes {
		all = append(all, code)
	}
	sort.Strings(all)
	if fmt.Sprint(enum) != fmt.Sprint(all) {
		t.Errorf("the Error schema lists codes %v; the API has %v", enum, all)
	}
	// Every schema referenced exists.
	raw, _ := json.Marshal(doc.Paths)
	for _, m := range regexp.MustCompile(`#/components/schemas/(\w+)`).FindAllStringSubmatch(string(raw), -1) {
		if _, ok := doc.Components.Schemas[m[1]]; !ok {
			t.Errorf("schema %s is referenced but not defined", m[1])
		}
	}
}

// TestOpenAPISchemasMatchAnswers checks answers of the server against the required fields
// and no additional properties of the schemas they are documented with.
func TestOpenAPISchemasMatchAnswers(t *testing.T) {
	f := newFull(t, fullConfig{})
	doc := loadOpenAPI(t, api.OpenAPI())
	receipt, _ := submit(t, f.stack, randomDigest().String())
	waitCheckpoint(t, f.svc, 1)
	for _, tt := range []struct {
		path, schema string
	}{
		{"/v1/status", "ServiceStatus"},
		{"/v1/keys", "Keys"},
		{"/v1/anchors", "Anchors"},
		{"/readyz", "Ready"},
		{"/v1/timestamps/" + receipt.Digest, "Timestamp"},
		{"/v1/proofs/inclusion?index=0&size=1", "InclusionProof"},
		{"/v1/proofs/consistency?old=0&new=1", "ConsistencyProof"},
		{"/v1/nothing", "ErrorBody"},
	} {
		t.Run(tt.path, func(t *testing.T) {
			r := do(t, http.DefaultClient, http.MethodGet, f.url+tt.path, "", nil)
			var answer map[string]any
			if err := json.Unmarshal(r.body, &answer); err != nil {
				t.Fatal(err)
			}
			var schema struct {
				Required   []string                   `json:"required"`
				Properties map[string]json.RawMessage `json:"properties"`
			}
			if err := json.Unmarshal(doc.Components.Schemas[tt.schema], &schema); err != nil {
				t.Fatal(err)
			}
			for _, k := range schema.Required {
				if _, ok := answer[k]; !ok {
					t.Errorf("the answer lacks required field %q: %s", k, r.body)
				}
			}
			for k := range answer {
				if _, ok := schema.Properties[k]; !ok {
					t.Errorf("the answer has field %q, which schema %s does not", k, tt.schema)
				}
			}
		})
	}
}
