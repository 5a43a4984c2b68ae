package web

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io/fs"
	"regexp"
	"strings"
)

// offlineModules are the verify page's modules, each after those it imports.
var offlineModules = []string{"sha256", "ots", "proof", "common", "verify-page"}

var (
	importLine  = regexp.MustCompile(`(?m)^import \{([^}]*)\} from "\./([a-z0-9-]+)\.js";\n`)
	exportDecl  = regexp.MustCompile(`(?m)^export ((?:async )?function|const|class) ([A-Za-z_$][\w$]*)`)
	servedPart  = regexp.MustCompile(`(?s)[ \t]*<!-- served -->.*?<!-- /served -->\n`)
	offlinePart = regexp.MustCompile(`(?s)<!-- offline\n(.*?)[ \t]*offline -->\n`)
)

// buildOfflinePage makes verify-offline.html from the verify page: one file with its
// stylesheet, its icon and its modules inlined (each module a function scope, its imports
// the exports of those before it), under a Content-Security-Policy that lets it load and
// send nothing. The parts of verify.html marked "served" are left out, and the part marked
// "offline" put in.
func buildOfflinePage(fsys fs.FS) ([]byte, error) {
	read := func(name string) (string, error) {
		b, err := fs.ReadFile(fsys, name)
		return string(b), err
	}
	var script strings.Builder
	script.WriteString("\n\"use strict\";\n")
	for i, name := range offlineModules {
		src, err := read("js/" + name + ".js")
		if err != nil {
			return nil, err
		}
		var bad error
		src = importLine.ReplaceAllStringFunc(src, func(line string) string {
			m := importLine.FindStringSubmatch(line)
			if !strings.Contains(strings.Join(offlineModules[:i], " "), m[2]) {
				bad = fmt.Errorf("js/%s.js imports %s.js, which is not inlined before it", name, m[2])
			}
			return "const {" + strings.ReplaceAll(m[1], " as ", ": ") + "} = " + moduleVar(m[2]) + ";\n"
		})
		if bad != nil {
			return nil, bad
		}
		if strings.Contains(src, "import ") && regexp.MustCompile(`(?m)^import |\bimport\(`).MatchString(src) {
			return nil, fmt.Errorf("js/%s.js has an import this page maker does not read", name)
		}
		var exports []string
		for _, m := range exportDecl.FindAllStringSubmatch(src, -1) {
			exports = append(exports, m[2])
		}
		src = exportDecl.ReplaceAllString(src, "$1 $2")
		if regexp.MustCompile(`(?m)^export `).MatchString(src) {
			return nil, fmt.Errorf("js/%s.js has an export this page maker does not read", name)
		}
		if i == len(offlineModules)-1 {
			fmt.Fprintf(&script, "{\n// js/%s.js\n%s}\n", name, src)
			continue
		}
		fmt.Fprintf(&script, "const %s = (() => {\n// js/%s.js\n%sreturn { %s };\n})();\n", moduleVar(name), name, src, strings.Join(exports, ", "))
	}
	js := script.String()
	css, err := read("style.css")
	if err != nil {
		return nil, err
	}
	icon, err := read("icon.svg")
	if err != nil {
		return nil, err
	}
	page, err := read("verify.html")
	if err != nil {
		return nil, err
	}
	if strings.Contains(strings.ToLower(js), "</script") || strings.Contains(strings.ToLower(css), "</style") {
		return nil, fmt.Errorf("a script or the stylesheet holds its own end tag")
	}
	hash := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	}
	iconURL := "data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString([]byte(icon))
	csp := "default-src 'none'; script-src " + hash(js) + "; style-src " + hash("\n"+css) +
		"; img-src data:; connect-src 'none'; worker-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'"
	policy := regexp.MustCompile(`<meta http-equiv="Content-Security-Policy" content="[^"]*">`)
	if len(policy.FindAllString(page, -1)) != 1 {
		return nil, fmt.Errorf("verify.html has not one Content-Security-Policy")
	}
	page = policy.ReplaceAllLiteralString(page, `<meta http-equiv="Content-Security-Policy" content="`+csp+`">`)
	for _, r := range []struct{ old, new string }{
		{`<title>Verify a proof — notary</title>`, `<title>Verify a proof, offline — notary</title>`},
		{`<link rel="icon" href="icon.svg" type="image/svg+xml">`, `<link rel="icon" href="` + iconURL + `" type="image/svg+xml">`},
		{`<link rel="stylesheet" href="style.css">`, "<style>\n" + css + "</style>"},
		{`<script type="module" src="js/verify-page.js"></script>`, `<script type="module">` + js + `</script>`},
		{`<a class="brand" href="./"><img src="icon.svg" alt="" width="24" height="24"> notary</a>`,
			`<span class="brand"><img src="` + iconURL + `" alt="" width="24" height="24"> notary</span>`},
	} {
		if strings.Count(page, r.old) != 1 {
			return nil, fmt.Errorf("verify.html has %q %d times, want once", r.old, strings.Count(page, r.old))
		}
		page = strings.Replace(page, r.old, r.new, 1)
	}
	if !servedPart.MatchString(page) || !offlinePart.MatchString(page) {
		return nil, fmt.Errorf("verify.html has no part marked served or offline")
	}
	page = servedPart.ReplaceAllString(page, "")
	page = offlinePart.ReplaceAllString(page, "$1")
	header := "<!-- notary's verify page, for use offline: made from its served pages by the notary that wrote it. -->\n"
	return []byte(strings.Replace(page, "<html", header+"<html", 1)), nil
}

func moduleVar(name string) string { return "module_" + strings.ReplaceAll(name, "-", "_") }
