package lint

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/policy"
)

// ReadFile returns the policy documents of a file: a policy document (JSON, or URL-encoded JSON
// as the IAM API returns it), a CloudFormation template (JSON or YAML, short-form tags such as
// !Sub and !Ref accepted) or a Terraform JSON configuration (*.tf.json). A plain policy document
// is linted as kind; templates say themselves which of their policies are SCPs.
func ReadFile(name string, data []byte, kind policy.Kind) ([]Document, error) {
	trimmed := bytes.TrimSpace(data)
	var root yaml.Node
	if len(trimmed) == 0 || yaml.Unmarshal(data, &root) != nil || len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		// Not a mapping: URL-encoded JSON or something the policy parser will explain.
		return []Document{{File: name, Kind: kind, Text: data}}, nil
	}
	top := root.Content[0]
	switch {
	case get(top, "Resources") != nil && get(top, "Statement") == nil:
		return cloudFormation(name, get(top, "Resources"))
	case get(top, "resource") != nil && get(top, "Statement") == nil:
		return terraformJSON(name, get(top, "resource"))
	}
	return []Document{{File: name, Kind: kind, Text: data}}, nil
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

// terraformJSON extracts policies given as JSON strings in a Terraform JSON configuration.
func terraformJSON(file string, resources *yaml.Node) ([]Document, error) {
	attrs := map[string]struct {
		attr string
		kind policy.Kind
	}{
		"aws_iam_policy":           {"policy", policy.KindIdentity},
		"aws_iam_group_policy":     {"policy", policy.KindIdentity},
		"aws_iam_user_policy":      {"policy", policy.KindIdentity},
		"aws_iam_role_policy":      {"policy", policy.KindIdentity},
		"aws_organizations_policy": {"content", policy.KindSCP},
	}
	var out []Document
	for _, kv := range pairs(resources) {
		typ := kv[0].Value
		a, ok := attrs[typ]
		if !ok {
			continue
		}
		for _, r := range pairs(kv[1]) {
			if typ == "aws_organizations_policy" {
				if t := scalarValue(get(r[1], "type")); t != "" && t != "SERVICE_CONTROL_POLICY" {
					continue
				}
			}
			v := get(r[1], a.attr)
			if v == nil || v.Kind != yaml.ScalarNode || !strings.HasPrefix(strings.TrimSpace(v.Value), "{") {
				continue // an expression (jsonencode, data source): not a literal document
			}
			out = append(out, Document{File: file, Name: typ + "." + r[0].Value, Line: v.Line, Kind: a.kind, Text: []byte(v.Value)})
		}
	}
	return out, nil
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
