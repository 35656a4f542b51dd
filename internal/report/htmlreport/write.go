package htmlreport

import (
	"bufio"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"html/template"
	"io"
	"strings"
)

var (
	//go:embed page.css
	pageCSS string
	//go:embed page.js
	pageJS string
	//go:embed page.html.tmpl
	pageHTML string

	tmpl = template.Must(template.New("page").Funcs(template.FuncMap{"join": func(s []string) string { return strings.Join(s, " ") }}).Parse(pageHTML))
)

// CSP is the page's Content-Security-Policy: nothing may be loaded, and only the page's own
// style and script, named by their hashes, may run.
func CSP() string {
	return "default-src 'none'; style-src '" + Hash(pageCSS) + "'; script-src '" + Hash(pageJS) + "'; " +
		"img-src 'none'; connect-src 'none'; font-src 'none'; base-uri 'none'; form-action 'none'"
}

// Hash is a CSP source expression's hash of an inline block: sha256-, then base64.
func Hash(block string) string {
	sum := sha256.Sum256([]byte(block))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

type document struct {
	CSP string
	CSS template.CSS
	JS  template.JS
	P   page
	// Data is the findings by user as JSON, when the page shows them on demand.
	Data template.JS
}

// Write renders the page. The same input gives the same bytes.
func Write(w io.Writer, in Input) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	// The style and script are this package's constants; their hashes are in the policy.
	doc := document{CSP: CSP(), CSS: template.CSS(pageCSS), JS: template.JS(pageJS), P: build(in)}
	if doc.P.OnDemand {
		var err error
		if doc.Data, err = findingsJSON(doc.P); err != nil {
			return err
		}
	}
	if err := tmpl.Execute(bw, doc); err != nil {
		return err
	}
	return bw.Flush()
}
