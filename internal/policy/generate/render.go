package generate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/iamwarden/iamwarden/internal/policy"
)

// MarshalDocument writes a policy document as indented JSON in IAM's element order, with a final
// newline.
func MarshalDocument(doc policy.Document) ([]byte, error) {
	compact, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("marshal policy: %w", err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, compact, "", "  "); err != nil {
		return nil, fmt.Errorf("indent policy: %w", err)
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// jnode is a JSON value with its object keys in document order.
type jnode struct {
	obj   bool
	arr   bool
	keys  []string
	elems []*jnode
	lit   string // a string (unquoted) or the text of another scalar
	str   bool
}

func decodeOrdered(data []byte) (*jnode, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return decodeValue(dec)
}

func decodeValue(dec *json.Decoder) (*jnode, error) {
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch v := t.(type) {
	case json.Delim:
		n := &jnode{obj: v == '{', arr: v == '['}
		for dec.More() {
			if n.obj {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, kt.(string))
			}
			e, err := decodeValue(dec)
			if err != nil {
				return nil, err
			}
			n.elems = append(n.elems, e)
		}
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		return n, nil
	case string:
		return &jnode{lit: v, str: true}, nil
	case json.Number:
		return &jnode{lit: v.String()}, nil
	case bool:
		return &jnode{lit: fmt.Sprint(v)}, nil
	case nil:
		return &jnode{lit: "null"}, nil
	}
	return nil, fmt.Errorf("unexpected JSON token %v", t)
}

// hclString quotes s as an HCL template string literal: quotes and backslashes escaped and
// interpolation sequences (${, %{) doubled so IAM policy variables reach AWS as written.
func hclString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\t':
			b.WriteString(`\t`)
		case (c == '$' || c == '%') && i+1 < len(s) && s[i+1] == '{':
			b.WriteByte(c)
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func (n *jnode) scalarHCL() string {
	if n.str {
		return hclString(n.lit)
	}
	return n.lit
}

// inline reports whether the value is written on one line.
func (n *jnode) inline() bool {
	return (!n.obj && !n.arr) || len(n.elems) == 0 || (n.arr && len(n.elems) == 1 && !n.elems[0].obj && !n.elems[0].arr)
}

// writeHCL writes n as an HCL expression at the given indentation, laid out as terraform fmt
// lays it out: one attribute per line, the equals signs of consecutive one-line attributes
// aligned.
func (n *jnode) writeHCL(b *strings.Builder, indent string) {
	switch {
	case n.obj && len(n.elems) == 0:
		b.WriteString("{}")
	case n.arr && len(n.elems) == 0:
		b.WriteString("[]")
	case n.arr && n.inline():
		b.WriteString("[" + n.elems[0].scalarHCL() + "]")
	case n.arr:
		b.WriteString("[\n")
		for _, e := range n.elems {
			b.WriteString(indent + "  ")
			e.writeHCL(b, indent+"  ")
			b.WriteString(",\n")
		}
		b.WriteString(indent + "]")
	case n.obj:
		b.WriteString("{\n")
		keys := make([]string, len(n.keys))
		for i, k := range n.keys {
			keys[i] = hclString(k)
		}
		writeAttributes(b, indent+"  ", keys, n.elems)
		b.WriteString(indent + "}")
	default:
		b.WriteString(n.scalarHCL())
	}
}

// writeAttributes writes key = value lines, aligning the equals signs of runs of one-line
// values; a multi-line value ends a run.
func writeAttributes(b *strings.Builder, indent string, keys []string, vals []*jnode) {
	for start := 0; start < len(keys); {
		end := start + 1
		if vals[start].inline() {
			for end < len(keys) && vals[end].inline() {
				end++
			}
		}
		width := 0
		for i := start; i < end; i++ {
			width = max(width, len(keys[i]))
		}
		for i := start; i < end; i++ {
			b.WriteString(indent + keys[i] + strings.Repeat(" ", width-len(keys[i])) + " = ")
			vals[i].writeHCL(b, indent)
			b.WriteByte('\n')
		}
		start = end
	}
}

// attr is one attribute of a Terraform resource block.
type attr struct {
	key string
	raw string // an HCL expression written as is
	doc *jnode // or a policy document, written inside jsonencode()
}

func writeResource(b *strings.Builder, typ, label string, attrs []attr) {
	fmt.Fprintf(b, "resource %q %q {\n", typ, label)
	keys := make([]string, len(attrs))
	for i, a := range attrs {
		keys[i] = a.key
	}
	// Aligned like writeAttributes; a jsonencode() document spans lines and ends a run.
	for start := 0; start < len(keys); {
		end := start + 1
		if attrs[start].doc == nil {
			for end < len(keys) && attrs[end].doc == nil {
				end++
			}
		}
		width := 0
		for i := start; i < end; i++ {
			width = max(width, len(keys[i]))
		}
		for i := start; i < end; i++ {
			b.WriteString("  " + keys[i] + strings.Repeat(" ", width-len(keys[i])) + " = ")
			if attrs[i].doc != nil {
				b.WriteString("jsonencode(")
				attrs[i].doc.writeHCL(b, "  ")
				b.WriteString(")\n")
			} else {
				b.WriteString(attrs[i].raw + "\n")
			}
		}
		start = end
	}
	b.WriteString("}\n")
}

func renderTerraform(w io.Writer, info KindInfo, opts Options, doc policy.Document) error {
	compact, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	tree, err := decodeOrdered(compact)
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n# Generated by iamwarden: iamwarden policy render %s --format terraform\n\n", info.Title, info.Kind)
	label := info.Terraform
	desc := hclString(description(info))
	switch info.Kind {
	case KindEnforceMFASCP:
		writeResource(&b, "aws_organizations_policy", label, []attr{
			{key: "name", raw: hclString(opts.Name)},
			{key: "description", raw: desc},
			{key: "type", raw: `"SERVICE_CONTROL_POLICY"`},
			{key: "content", doc: tree},
		})
	case KindEnforceMFAGroup:
		writeResource(&b, "aws_iam_group", label, []attr{{key: "name", raw: hclString(opts.Name)}})
		b.WriteByte('\n')
		writeResource(&b, "aws_iam_policy", label, []attr{
			{key: "name", raw: hclString(opts.PolicyName)},
			{key: "description", raw: desc},
			{key: "policy", doc: tree},
		})
		b.WriteByte('\n')
		writeResource(&b, "aws_iam_group_policy_attachment", label, []attr{
			{key: "group", raw: "aws_iam_group." + label + ".name"},
			{key: "policy_arn", raw: "aws_iam_policy." + label + ".arn"},
		})
	default:
		writeResource(&b, "aws_iam_policy", label, []attr{
			{key: "name", raw: hclString(opts.Name)},
			{key: "description", raw: desc},
			{key: "policy", doc: tree},
		})
	}
	_, err = io.WriteString(w, b.String())
	return err
}

// CloudFormation logical IDs.
const (
	cfnPolicyID = "Policy"
	cfnGroupID  = "Group"
)

func scalar(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v} }

func tagged(tag, v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: v} }

func mapping(kv ...any) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for i := 0; i < len(kv); i += 2 {
		n.Content = append(n.Content, scalar(kv[i].(string)))
		switch v := kv[i+1].(type) {
		case string:
			n.Content = append(n.Content, scalar(v))
		case *yaml.Node:
			n.Content = append(n.Content, v)
		default:
			panic(fmt.Sprintf("mapping: unsupported value %T", v))
		}
	}
	return n
}

func sequence(items ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: items}
}

// plain drops the JSON quoting styles so the YAML encoder quotes only what needs it.
func plain(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		plain(c)
	}
}

func renderCloudFormation(w io.Writer, info KindInfo, opts Options, docJSON []byte) error {
	var docNode yaml.Node
	if err := yaml.Unmarshal(docJSON, &docNode); err != nil {
		return fmt.Errorf("policy document as YAML: %w", err)
	}
	doc := docNode.Content[0]
	plain(doc)
	desc := description(info)
	resources := mapping()
	outputs := mapping()
	switch info.Kind {
	case KindEnforceMFASCP:
		resources = mapping(cfnPolicyID, mapping(
			"Type", "AWS::Organizations::Policy",
			"Properties", mapping("Name", opts.Name, "Description", desc, "Type", "SERVICE_CONTROL_POLICY", "Content", doc),
		))
		outputs = mapping("PolicyId", mapping("Description", "ID of the service control policy; attach it to a root, OU or account", "Value", tagged("!Ref", cfnPolicyID)))
	case KindEnforceMFAGroup:
		resources = mapping(
			cfnGroupID, mapping("Type", "AWS::IAM::Group", "Properties", mapping("GroupName", opts.Name)),
			cfnPolicyID, mapping("Type", "AWS::IAM::ManagedPolicy", "Properties", mapping(
				"ManagedPolicyName", opts.PolicyName, "Description", desc,
				"Groups", sequence(tagged("!Ref", cfnGroupID)),
				"PolicyDocument", doc)),
		)
		outputs = mapping(
			"GroupName", mapping("Description", "Add users who must use MFA to this group", "Value", tagged("!Ref", cfnGroupID)),
			"PolicyArn", mapping("Value", tagged("!Ref", cfnPolicyID)),
		)
	default:
		resources = mapping(cfnPolicyID, mapping("Type", "AWS::IAM::ManagedPolicy", "Properties", mapping(
			"ManagedPolicyName", opts.Name, "Description", desc, "PolicyDocument", doc)))
		outputs = mapping("PolicyArn", mapping("Value", tagged("!Ref", cfnPolicyID)))
	}
	tmpl := mapping(
		"AWSTemplateFormatVersion", "2010-09-09",
		"Description", fmt.Sprintf("%s (generated by iamwarden policy render %s --format cloudformation)", info.Title, info.Kind),
		"Resources", resources,
		"Outputs", outputs,
	)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(tmpl); err != nil {
		return fmt.Errorf("encode template: %w", err)
	}
	if err := enc.Close(); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}
