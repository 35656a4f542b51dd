package lint

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
	"go.yaml.in/yaml/v3"

	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/policy"
)

// Source is what a file or directory holds: the documents to lint, and notes on the policies
// and files that cannot be linted.
type Source struct {
	Documents []Document
	Notes     []Note
}

// Note is a policy, or a file, that was found but not linted, with the reason.
type Note struct {
	File   string
	Line   int    // 0 for the whole file
	Name   string // the resource, empty for the whole file
	Reason string
}

// String is "file:line: name: not linted: reason".
func (n Note) String() string {
	var b strings.Builder
	b.WriteString(n.File)
	if n.Line > 0 {
		fmt.Fprintf(&b, ":%d", n.Line)
	}
	if n.Name != "" {
		b.WriteString(": " + n.Name)
	}
	b.WriteString(": not linted: " + n.Reason)
	return b.String()
}

// Extensions are the file name endings ReadPath reads in a directory.
var Extensions = []string{".json", ".yaml", ".yml", ".template", ".tf", ".tf.json"}

// ReadPath reads a file, or every file under a directory whose name ends in one of Extensions
// (recursively, in lexical order, leaving out hidden directories such as .terraform and .git).
// A file named explicitly is read whatever its name; in a directory, JSON and YAML files that
// are neither a policy document, a CloudFormation template nor a Terraform JSON configuration
// are noted and left out.
func ReadPath(path string, kind policy.Kind) (Source, error) {
	info, err := os.Stat(path)
	if err != nil {
		return Source{}, err
	}
	if !info.IsDir() {
		data, err := os.ReadFile(path)
		if err != nil {
			return Source{}, err
		}
		return Read(path, data, kind)
	}
	var src Source
	err = filepath.WalkDir(path, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			if p != path && strings.HasPrefix(e.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if !hasExtension(e.Name()) {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if !isTerraform(p) && !holdsPolicies(data) {
			src.Notes = append(src.Notes, Note{File: p, Reason: "holds no policy document, CloudFormation template or Terraform configuration"})
			return nil
		}
		s, err := Read(p, data, kind)
		if err != nil {
			return err
		}
		src.Documents = append(src.Documents, s.Documents...)
		src.Notes = append(src.Notes, s.Notes...)
		return nil
	})
	return src, err
}

func hasExtension(name string) bool {
	name = strings.ToLower(name)
	for _, ext := range Extensions {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

func isTerraform(name string) bool { return strings.HasSuffix(strings.ToLower(name), ".tf") }

// holdsPolicies reports whether JSON or YAML data is a mapping with a policy's Statement, a
// template's Resources or a Terraform configuration's resource.
func holdsPolicies(data []byte) bool {
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil || len(root.Content) == 0 {
		return false
	}
	top := root.Content[0]
	return get(top, "Statement") != nil || get(top, "Resources") != nil || get(top, "resource") != nil
}

// ReadFile returns the policy documents of a file, as Read does, without its notes.
func ReadFile(name string, data []byte, kind policy.Kind) ([]Document, error) {
	src, err := Read(name, data, kind)
	return src.Documents, err
}

// Read returns the policy documents of a file: a policy document (JSON, or URL-encoded JSON as
// the IAM API returns it), a CloudFormation template (JSON or YAML, short-form tags such as
// !Sub and !Ref accepted), a Terraform configuration (*.tf, HCL) or a Terraform JSON
// configuration (*.tf.json). A plain policy document is linted as kind; templates and
// configurations say themselves which of their policies are SCPs.
func Read(name string, data []byte, kind policy.Kind) (Source, error) {
	if isTerraform(name) {
		return terraformHCL(name, data)
	}
	trimmed := bytes.TrimSpace(data)
	var root yaml.Node
	if len(trimmed) == 0 || yaml.Unmarshal(data, &root) != nil || len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		// Not a mapping: URL-encoded JSON or something the policy parser will explain.
		return Source{Documents: []Document{{File: name, Kind: kind, Text: data}}}, nil
	}
	top := root.Content[0]
	switch {
	case get(top, "Resources") != nil && get(top, "Statement") == nil:
		docs, err := cloudFormation(name, get(top, "Resources"))
		return Source{Documents: docs}, err
	case get(top, "resource") != nil && get(top, "Statement") == nil:
		return terraformJSON(name, get(top, "resource")), nil
	}
	return Source{Documents: []Document{{File: name, Kind: kind, Text: data}}}, nil
}

// get returns the value of key in a mapping node.
func get(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func scalarValue(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

// pairs returns the key/value nodes of a mapping in document order.
func pairs(m *yaml.Node) [][2]*yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	out := make([][2]*yaml.Node, 0, len(m.Content)/2)
	for i := 0; i+1 < len(m.Content); i += 2 {
		out = append(out, [2]*yaml.Node{m.Content[i], m.Content[i+1]})
	}
	return out
}

// cloudFormation extracts the policies of IAM and Organizations resources.
func cloudFormation(file string, resources *yaml.Node) ([]Document, error) {
	var out []Document
	for _, kv := range pairs(resources) {
		id, res := kv[0].Value, kv[1]
		props := get(res, "Properties")
		line := kv[0].Line
		switch scalarValue(get(res, "Type")) {
		case "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy":
			name := id
			if pn := scalarValue(get(props, "PolicyName")); pn != "" {
				name += " (" + pn + ")"
			}
			d, err := templateDocument(file, name, get(props, "PolicyDocument"), line, policy.KindIdentity)
			if err != nil {
				return nil, err
			}
			out = append(out, d...)
		case "AWS::IAM::Group", "AWS::IAM::User", "AWS::IAM::Role":
			ps := get(props, "Policies")
			if ps == nil || ps.Kind != yaml.SequenceNode {
				continue
			}
			for i, p := range ps.Content {
				name := fmt.Sprintf("%s.Policies[%d]", id, i)
				if pn := scalarValue(get(p, "PolicyName")); pn != "" {
					name += " (" + pn + ")"
				}
				d, err := templateDocument(file, name, get(p, "PolicyDocument"), p.Line, policy.KindIdentity)
				if err != nil {
					return nil, err
				}
				out = append(out, d...)
			}
		case "AWS::Organizations::Policy":
			if t := scalarValue(get(props, "Type")); t != "SERVICE_CONTROL_POLICY" {
				continue
			}
			name := id
			if pn := scalarValue(get(props, "Name")); pn != "" {
				name += " (" + pn + ")"
			}
			d, err := templateDocument(file, name, get(props, "Content"), line, policy.KindSCP)
			if err != nil {
				return nil, err
			}
			out = append(out, d...)
		}
	}
	return out, nil
}

// terraformResources are the Terraform resource types that hold a policy, the attribute that
// holds it and its kind.
var terraformResources = map[string]struct {
	attr string
	kind policy.Kind
}{
	"aws_iam_policy":           {"policy", policy.KindIdentity},
	"aws_iam_group_policy":     {"policy", policy.KindIdentity},
	"aws_iam_user_policy":      {"policy", policy.KindIdentity},
	"aws_iam_role_policy":      {"policy", policy.KindIdentity},
	"aws_organizations_policy": {"content", policy.KindSCP},
}

// scpType is the aws_organizations_policy type that is an SCP, the provider's default.
const scpType = "SERVICE_CONTROL_POLICY"

// terraformJSON extracts policies given as JSON strings in a Terraform JSON configuration.
func terraformJSON(file string, resources *yaml.Node) Source {
	var out Source
	for _, kv := range pairs(resources) {
		typ := kv[0].Value
		a, ok := terraformResources[typ]
		if !ok {
			continue
		}
		for _, r := range pairs(kv[1]) {
			if typ == "aws_organizations_policy" {
				if t := scalarValue(get(r[1], "type")); t != "" && t != scpType {
					continue
				}
			}
			name := typ + "." + r[0].Value
			v := get(r[1], a.attr)
			if v == nil {
				continue
			}
			if v.Kind != yaml.ScalarNode || !strings.HasPrefix(strings.TrimSpace(v.Value), "{") {
				out.Notes = append(out.Notes, Note{File: file, Line: v.Line, Name: name, Reason: "not a literal (a Terraform expression)"})
				continue
			}
			out.Documents = append(out.Documents, Document{File: file, Name: name, Line: v.Line, Kind: a.kind, Text: []byte(v.Value)})
		}
	}
	return out
}

// hclFunctions are the functions a policy attribute may call and still be a literal.
var hclFunctions = map[string]function.Function{"jsonencode": stdlib.JSONEncodeFunc}

// terraformHCL extracts the policies of a Terraform configuration: heredocs, strings and
// jsonencode of literal objects are evaluated; an attribute that refers to anything else (a
// data source, a variable, file()) is noted as not a literal.
func terraformHCL(file string, data []byte) (Source, error) {
	f, diags := hclsyntax.ParseConfig(data, file, hcl.InitialPos)
	if diags.HasErrors() {
		return Source{}, diags
	}
	body, ok := f.Body.(*hclsyntax.Body)
	if !ok {
		return Source{}, fmt.Errorf("%s: not a native syntax Terraform file", file)
	}
	var out Source
	for _, b := range body.Blocks {
		if b.Type != "resource" || len(b.Labels) != 2 {
			continue
		}
		a, ok := terraformResources[b.Labels[0]]
		if !ok {
			continue
		}
		if b.Labels[0] == "aws_organizations_policy" {
			if t, ok := b.Body.Attributes["type"]; ok {
				if v, d := t.Expr.Value(nil); !d.HasErrors() && v.Type() == cty.String && v.IsKnown() && !v.IsNull() && v.AsString() != scpType {
					continue
				}
			}
		}
		attr, ok := b.Body.Attributes[a.attr]
		if !ok {
			continue
		}
		name := b.Labels[0] + "." + b.Labels[1]
		line := attr.SrcRange.Start.Line
		text, reason := hclString(attr.Expr)
		if reason != "" {
			out.Notes = append(out.Notes, Note{File: file, Line: line, Name: name, Reason: reason})
			continue
		}
		out.Documents = append(out.Documents, Document{File: file, Name: name, Line: line, Kind: a.kind, Text: []byte(text),
			StatementLines: hclStatementLines(attr.Expr)})
	}
	return out, nil
}

// hclString evaluates a literal policy attribute, or says why it is not one.
func hclString(expr hclsyntax.Expression) (string, string) {
	var calls []string
	_ = hclsyntax.VisitAll(expr, func(n hclsyntax.Node) hcl.Diagnostics {
		if c, ok := n.(*hclsyntax.FunctionCallExpr); ok {
			if _, known := hclFunctions[c.Name]; !known {
				calls = append(calls, c.Name)
			}
		}
		return nil
	})
	if len(calls) > 0 {
		return "", "not a literal (calls " + strings.Join(calls, ", ") + ")"
	}
	if vars := expr.Variables(); len(vars) > 0 {
		refs := make([]string, 0, len(vars))
		for _, v := range vars {
			refs = append(refs, traversalString(v))
		}
		return "", "not a literal (refers to " + strings.Join(refs, ", ") + ")"
	}
	v, diags := expr.Value(&hcl.EvalContext{Functions: hclFunctions})
	switch {
	case diags.HasErrors():
		return "", "not a literal (" + diags[0].Summary + ")"
	case !v.IsKnown() || v.IsNull():
		return "", "not a literal"
	case v.Type() != cty.String:
		return "", "not a string (" + v.Type().FriendlyName() + "): give it as a heredoc or jsonencode({...})"
	}
	return v.AsString(), ""
}

// traversalString writes a reference as Terraform does: data.aws_iam_policy_document.x.json.
func traversalString(t hcl.Traversal) string {
	var b strings.Builder
	for _, step := range t {
		switch s := step.(type) {
		case hcl.TraverseRoot:
			b.WriteString(s.Name)
		case hcl.TraverseAttr:
			b.WriteString("." + s.Name)
		case hcl.TraverseIndex:
			b.WriteString("[...]")
		case hcl.TraverseSplat:
			b.WriteString("[*]")
		}
	}
	return b.String()
}

// hclStatementLines are the lines of the statements of jsonencode({... Statement = [...]}).
func hclStatementLines(expr hclsyntax.Expression) []int {
	call, ok := expr.(*hclsyntax.FunctionCallExpr)
	if !ok || call.Name != "jsonencode" || len(call.Args) != 1 {
		return nil
	}
	obj, ok := call.Args[0].(*hclsyntax.ObjectConsExpr)
	if !ok {
		return nil
	}
	for _, item := range obj.Items {
		k, d := item.KeyExpr.Value(nil)
		if d.HasErrors() || k.Type() != cty.String || !k.IsKnown() || k.IsNull() || k.AsString() != "Statement" {
			continue
		}
		switch st := item.ValueExpr.(type) {
		case *hclsyntax.TupleConsExpr:
			lines := make([]int, 0, len(st.Exprs))
			for _, e := range st.Exprs {
				lines = append(lines, e.Range().Start.Line)
			}
			return lines
		case *hclsyntax.ObjectConsExpr:
			return []int{st.Range().Start.Line}
		}
	}
	return nil
}

// templateDocument turns a template's policy document (a mapping, or a JSON string) into a
// Document, with the lines of its statements when it is a mapping.
func templateDocument(file, name string, n *yaml.Node, line int, kind policy.Kind) ([]Document, error) {
	if n == nil {
		return nil, nil
	}
	d := Document{File: file, Name: name, Line: line, Kind: kind}
	if n.Kind == yaml.ScalarNode {
		d.Text = []byte(n.Value)
		d.Line = n.Line
		return []Document{d}, nil
	}
	v, err := plainValue(n)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", file, name, err)
	}
	text, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", file, name, err)
	}
	d.Text = text
	d.Line = n.Line
	if st := get(n, "Statement"); st != nil {
		switch st.Kind {
		case yaml.SequenceNode:
			for _, s := range st.Content {
				d.StatementLines = append(d.StatementLines, s.Line)
			}
		case yaml.MappingNode:
			d.StatementLines = []int{st.Line}
		}
	}
	return []Document{d}, nil
}

// plainValue converts a YAML node into JSON-ready values. CloudFormation intrinsic functions,
// short (!Sub) or long ({"Fn::Sub": ...}), become strings: !Sub keeps its template, !Ref X
// becomes ${X}, others their name and first argument.
func plainValue(n *yaml.Node) (any, error) {
	if n.Kind == yaml.AliasNode {
		return plainValue(n.Alias)
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		return intrinsic(strings.TrimPrefix(n.Tag, "!"), n)
	}
	switch n.Kind {
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!bool", "!!int", "!!float":
			return json.RawMessage(normalizeScalar(n)), nil
		case "!!null":
			return nil, nil
		}
		return n.Value, nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := plainValue(c)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		if len(n.Content) == 2 {
			k := n.Content[0].Value
			if k == "Ref" || strings.HasPrefix(k, "Fn::") {
				return intrinsic(strings.TrimPrefix(k, "Fn::"), n.Content[1])
			}
		}
		out := map[string]any{}
		for _, kv := range pairs(n) {
			v, err := plainValue(kv[1])
			if err != nil {
				return nil, err
			}
			out[kv[0].Value] = v
		}
		return out, nil
	}
	return nil, fmt.Errorf("line %d: unsupported YAML node", n.Line)
}

func normalizeScalar(n *yaml.Node) string {
	if n.Tag == "!!bool" {
		var b bool
		if err := n.Decode(&b); err == nil {
			return fmt.Sprint(b)
		}
	}
	var f json.Number
	if err := n.Decode(&f); err == nil && json.Valid([]byte(f)) {
		return string(f)
	}
	b, _ := json.Marshal(n.Value)
	return string(b)
}

func intrinsic(fn string, arg *yaml.Node) (any, error) {
	switch {
	case fn == "Ref" && arg.Kind == yaml.ScalarNode:
		return "${" + arg.Value + "}", nil
	case fn == "Sub" && arg.Kind == yaml.ScalarNode:
		return substitute(arg.Value), nil
	case fn == "Sub" && arg.Kind == yaml.SequenceNode && len(arg.Content) > 0:
		return substitute(arg.Content[0].Value), nil
	case arg.Kind == yaml.ScalarNode:
		return "${" + fn + ":" + arg.Value + "}", nil
	}
	return "${" + fn + "}", nil
}

// substitute resolves a Fn::Sub template as far as possible offline: ${!x} is the literal ${x}
// (how templates write IAM policy variables), ${AWS::Partition} is aws, and every other
// parameter, pseudo parameter or attribute, unknown until deployment, matches anything.
func substitute(tmpl string) string {
	var b strings.Builder
	for {
		i := strings.Index(tmpl, "${")
		if i < 0 {
			b.WriteString(tmpl)
			return b.String()
		}
		j := strings.IndexByte(tmpl[i:], '}')
		if j < 0 {
			b.WriteString(tmpl)
			return b.String()
		}
		b.WriteString(tmpl[:i])
		name := tmpl[i+2 : i+j]
		switch {
		case strings.HasPrefix(name, "!"):
			b.WriteString("${" + name[1:] + "}")
		case name == "AWS::Partition":
			b.WriteString("aws")
		default:
			b.WriteString("*")
		}
		tmpl = tmpl[i+j+1:]
	}
}

// FromSnapshot returns the customer managed policies and the inline user and group policies of
// an account snapshot. where names the source ("account 123456789012", an export directory).
func FromSnapshot(snap *inventory.Snapshot, where string) []Document {
	var out []Document
	arns := make([]string, 0, len(snap.Policies))
	for arn := range snap.Policies {
		if strings.HasPrefix(arn, "arn:aws:iam::aws:") {
			continue // AWS managed: not the account's to fix
		}
		arns = append(arns, arn)
	}
	sort.Strings(arns)
	for _, arn := range arns {
		out = append(out, Document{File: where, Name: arn, Kind: policy.KindIdentity, Text: []byte(snap.Policies[arn].Document)})
	}
	groups := make([]string, 0, len(snap.Groups))
	for g := range snap.Groups {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	for _, g := range groups {
		for _, ip := range snap.Groups[g].InlinePolicies {
			out = append(out, Document{File: where, Name: "group/" + g + "/" + ip.Name, Kind: policy.KindIdentity, Text: []byte(ip.Document)})
		}
	}
	for _, u := range snap.Users {
		for _, ip := range u.InlinePolicies {
			out = append(out, Document{File: where, Name: "user/" + u.Name + "/" + ip.Name, Kind: policy.KindIdentity, Text: []byte(ip.Document)})
		}
	}
	return out
}
