package faultproxy

import (
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Operation names the API operation of a request: the Action of a Query-protocol form body
// (IAM, STS, SNS...) or the part after the dot of the X-Amz-Target header (DynamoDB, SSM...).
func Operation(h http.Header, body []byte) string {
	if target := h.Get("X-Amz-Target"); target != "" {
		if _, op, ok := strings.Cut(target, "."); ok {
			return op
		}
		return target
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return ""
	}
	return form.Get("Action")
}

// requestOperation reads the operation of a request passed to a Match function.
func requestOperation(r *http.Request) string {
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
	}
	return Operation(r.Header, body)
}

// Actions matches requests for the named operations.
func Actions(names ...string) func(*http.Request) bool {
	return func(r *http.Request) bool { return slices.Contains(names, requestOperation(r)) }
}

// readOnlyPrefixes start the names of operations that change nothing.
var readOnlyPrefixes = []string{"Get", "List", "Describe", "Simulate", "Generate", "Query", "Scan", "BatchGet"}

// Mutating matches requests for operations that change state: every named operation whose
// name does not start with Get, List, Describe, Simulate, Generate, Query, Scan or BatchGet.
func Mutating(r *http.Request) bool {
	op := requestOperation(r)
	if op == "" {
		return false
	}
	for _, p := range readOnlyPrefixes {
		if strings.HasPrefix(op, p) {
			return false
		}
	}
	return true
}
