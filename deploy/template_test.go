package deploy_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const (
	templatePath       = "cloudformation/iamwarden.yaml"
	memberTemplatePath = "cloudformation/member.yaml"
)

// loadTemplate reads the hub's template as JSON-shaped values, its short-form intrinsic
// functions (!Ref, !Sub, !GetAtt...) written out as {"Ref": ...}, {"Fn::Sub": ...}.
func loadTemplate(t *testing.T) map[string]any {
	t.Helper()
	return loadTemplateAt(t, templatePath)
}

// loadTemplateAt reads the template at path as loadTemplate does.
func loadTemplateAt(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		t.Fatal(err)
	}
	v, err := fromYAML(root.Content[0])
	if err != nil {
		t.Fatal(err)
	}
	return v.(map[string]any)
}

func fromYAML(n *yaml.Node) (any, error) {
	var v any
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i < len(n.Content); i += 2 {
			e, err := fromYAML(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = e
		}
		v = m
	case yaml.SequenceNode:
		l := []any{}
		for _, c := range n.Content {
			e, err := fromYAML(c)
			if err != nil {
				return nil, err
			}
			l = append(l, e)
		}
		v = l
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!bool", "!!int", "!!float":
			if err := n.Decode(&v); err != nil {
				return nil, err
			}
		default:
			v = n.Value
		}
	case yaml.AliasNode:
		return fromYAML(n.Alias)
	default:
		return nil, fmt.Errorf("line %d: unexpected YAML node", n.Line)
	}
	if !strings.HasPrefix(n.Tag, "!") || strings.HasPrefix(n.Tag, "!!") {
		return v, nil
	}
	name := strings.TrimPrefix(n.Tag, "!")
	switch name {
	case "Ref", "Condition":
		return map[string]any{name: v}, nil
	case "GetAtt":
		if s, ok := v.(string); ok {
			res, attr, _ := strings.Cut(s, ".")
			v = []any{res, attr}
		}
	}
	return map[string]any{"Fn::" + name: v}, nil
}

func section(t *testing.T, tmpl map[string]any, name string) map[string]any {
	t.Helper()
	m, ok := tmpl[name].(map[string]any)
	if !ok {
		t.Fatalf("template has no %s section", name)
	}
	return m
}

func resourcesOfType(t *testing.T, tmpl map[string]any, typ string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for id, r := range section(t, tmpl, "Resources") {
		res := r.(map[string]any)
		if res["Type"] == typ {
			out[id] = res
		}
	}
	return out
}

// resource returns the only resource of type typ.
func resource(t *testing.T, tmpl map[string]any, typ string) (string, map[string]any) {
	t.Helper()
	rs := resourcesOfType(t, tmpl, typ)
	if len(rs) != 1 {
		t.Fatalf("%d resources of type %s, want 1", len(rs), typ)
	}
	for id, r := range rs {
		return id, r
	}
	return "", nil
}

func props(r map[string]any) map[string]any { p, _ := r["Properties"].(map[string]any); return p }

// stack is what the evaluator knows of a stack: parameters, pseudo parameters, and what Ref and
// Fn::GetAtt give for each resource.
type stack struct {
	refs       map[string]string // parameter, pseudo parameter or resource -> Ref value
	attrs      map[string]string // "Resource.Attribute" -> Fn::GetAtt value
	conditions map[string]any    // the template's Conditions section
}

// noValue marks AWS::NoValue: the property or list element it stands for is left out.
type noValue struct{}

var subVar = regexp.MustCompile(`\$\{([^}!][^}]*)\}`)

func (s *stack) ref(name string) (any, error) {
	if name == "AWS::NoValue" {
		return noValue{}, nil
	}
	if v, ok := s.refs[name]; ok {
		return v, nil
	}
	return nil, fmt.Errorf("Ref %s: unknown to the test", name)
}

func (s *stack) condition(name string) (bool, error) {
	c, ok := s.conditions[name]
	if !ok {
		return false, fmt.Errorf("condition %s not in the template", name)
	}
	return s.truth(c)
}

func (s *stack) truth(v any) (bool, error) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return false, fmt.Errorf("condition %v: not one function", v)
	}
	for fn, arg := range m {
		args, _ := arg.([]any)
		switch fn {
		case "Condition":
			return s.condition(arg.(string))
		case "Fn::Equals":
			a, err := s.eval(args[0])
			if err != nil {
				return false, err
			}
			b, err := s.eval(args[1])
			if err != nil {
				return false, err
			}
			return fmt.Sprint(a) == fmt.Sprint(b), nil
		case "Fn::Not":
			b, err := s.truth(args[0])
			return !b, err
		case "Fn::And", "Fn::Or":
			all := fn == "Fn::And"
			for _, a := range args {
				b, err := s.truth(a)
				if err != nil {
					return false, err
				}
				if b != all {
					return b, nil
				}
			}
			return all, nil
		}
		return false, fmt.Errorf("condition function %s unknown to the test", fn)
	}
	return false, nil
}

// eval resolves Ref, Fn::GetAtt, Fn::Sub, Fn::If and Fn::Join in v, the way CloudFormation does.
func (s *stack) eval(v any) (any, error) {
	switch v := v.(type) {
	case []any:
		out := []any{}
		for _, e := range v {
			r, err := s.eval(e)
			if err != nil {
				return nil, err
			}
			if _, skip := r.(noValue); !skip {
				out = append(out, r)
			}
		}
		return out, nil
	case map[string]any:
		if len(v) == 1 {
			for fn, arg := range v {
				switch fn {
				case "Ref":
					return s.ref(arg.(string))
				case "Fn::GetAtt":
					l := arg.([]any)
					key := l[0].(string) + "." + l[1].(string)
					if a, ok := s.attrs[key]; ok {
						return a, nil
					}
					return nil, fmt.Errorf("Fn::GetAtt %s: unknown to the test", key)
				case "Fn::Sub":
					str, ok := arg.(string)
					if !ok {
						return nil, fmt.Errorf("Fn::Sub with a variable map: unknown to the test")
					}
					var err error
					out := subVar.ReplaceAllStringFunc(str, func(m string) string {
						name := m[2 : len(m)-1]
						if a, ok := s.attrs[name]; ok {
							return a
						}
						r, e := s.ref(name)
						if e != nil {
							err = e
						}
						return fmt.Sprint(r)
					})
					return strings.ReplaceAll(out, "${!", "${"), err
				case "Fn::If":
					l := arg.([]any)
					b, err := s.condition(l[0].(string))
					if err != nil {
						return nil, err
					}
					if b {
						return s.eval(l[1])
					}
					return s.eval(l[2])
				case "Fn::Join":
					l := arg.([]any)
					parts, err := s.eval(l[1])
					if err != nil {
						return nil, err
					}
					var strs []string
					for _, p := range parts.([]any) {
						strs = append(strs, fmt.Sprint(p))
					}
					return strings.Join(strs, l[0].(string)), nil
				}
				if strings.HasPrefix(fn, "Fn::") {
					return nil, fmt.Errorf("%s: unknown to the test", fn)
				}
			}
		}
		out := map[string]any{}
		for k, e := range v {
			r, err := s.eval(e)
			if err != nil {
				return nil, err
			}
			if _, skip := r.(noValue); !skip {
				out[k] = r
			}
		}
		return out, nil
	}
	return v, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func jsonText(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func repoFile(parts ...string) string { return filepath.Join(append([]string{".."}, parts...)...) }

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
