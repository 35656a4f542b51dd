package policy

import (
	"fmt"
	"strconv"
	"strings"
)

// cstatement is a statement compiled for evaluation.
type cstatement struct {
	ref         StatementRef
	deny        bool
	notAction   bool
	actions     []pattern
	notResource bool
	resources   []pattern // empty with a nil Resource: any resource (resource policies)
	principal   *cprincipal
	conditions  []ccondition
}

type cprincipal struct {
	not      bool
	wildcard bool
	ids      []string
}

// Compile turns a document into a Policy without validating it; Parse validates first. Statements
// the evaluator cannot use (unknown operators) are rejected.
func Compile(name string, doc *Document, kind Kind) (*Policy, error) {
	p := &Policy{Name: name, Kind: kind, Document: *doc}
	vars := doc.Version == Version2012
	for i := range doc.Statement {
		st := &doc.Statement[i]
		cs := cstatement{
			ref:  StatementRef{Policy: name, Kind: kind, Sid: st.Sid, Index: i, Line: st.Line, Effect: st.Effect},
			deny: st.Effect == EffectDeny,
		}
		acts := st.Action
		if st.NotAction != nil {
			acts, cs.notAction = st.NotAction, true
		}
		for _, a := range acts {
			cs.actions = append(cs.actions, compilePattern(a, patternOpts{wild: true, fold: true}))
		}
		res := st.Resource
		if st.NotResource != nil {
			res, cs.notResource = st.NotResource, true
		}
		for _, r := range res {
			cs.resources = append(cs.resources, compilePattern(r, patternOpts{wild: true, vars: vars, arn: true}))
		}
		if pr := st.Principal; pr != nil || st.NotPrincipal != nil {
			cp := &cprincipal{}
			if pr == nil {
				pr, cp.not = st.NotPrincipal, true
			}
			cp.wildcard = pr.Wildcard
			for _, typ := range sortedKeys(pr.Map) {
				for _, id := range pr.Map[typ] {
					if id == "*" && typ == "AWS" {
						cp.wildcard = true
					}
					cp.ids = append(cp.ids, id)
				}
			}
			cs.principal = cp
		}
		for _, opName := range st.Condition.Operators() {
			spec, err := parseOperator(opName)
			if err != nil {
				return nil, fmt.Errorf("policy %s: %s: %w", name, st.describe(i), err)
			}
			for _, key := range sortedKeys(st.Condition[opName]) {
				cs.conditions = append(cs.conditions, compileCondition(spec, key, st.Condition[opName][key], vars))
			}
		}
		p.compiled = append(p.compiled, cs)
	}
	return p, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sortStrings(keys)
	return keys
}

// PolicySet is every policy that applies to a request.
type PolicySet struct {
	Identity []*Policy // user inline and managed policies, group policies
	Boundary *Policy   // permissions boundary; nil when none is set
	// SCPs holds one slice per organization level (root, OUs..., account); every level must
	// allow. Nil when the account is not in an organization (or for the management account).
	SCPs             [][]*Policy
	ResourcePolicies []*Policy
}

// Request is one API call to decide.
type Request struct {
	Principal string // principal ARN, e.g. arn:aws:iam::123456789012:user/alice
	Action    string // service:Action
	Resource  string // resource ARN, or "*"
	Context   map[string]Value
	// ResourceAccount owns the resource; empty means the account field of Resource (S3 ARNs
	// have none, and are then taken to be in the principal's account).
	ResourceAccount string
}

// Result is the outcome of an evaluation.
type Result int

// Results.
const (
	ImplicitDeny Result = iota
	Allowed
	ExplicitDeny
)

func (r Result) String() string {
	switch r {
	case Allowed:
		return "allowed"
	case ExplicitDeny:
		return "explicit_deny"
	}
	return "implicit_deny"
}

// StatementRef points at a statement that decided a request.
type StatementRef struct {
	Policy string
	Kind   Kind
	Sid    string
	Index  int
	Line   int
	Effect string
}

// Layers named by Decision.Missing.
const (
	LayerIdentity = "identity"
	LayerBoundary = "boundary"
	LayerResource = "resource"
)

// Decision is the answer to a request, with its reasons. For ExplicitDeny, Deciding lists the
// matching Deny statements; for Allowed, the Allow statements of every layer that matched; for
// ImplicitDeny, Missing names the layer without an Allow ("identity", "boundary", "resource" or
// "scp level N", 0 being the organization root).
type Decision struct {
	Result   Result
	Deciding []StatementRef
	Missing  string
}

// Allowed reports whether the request is allowed.
func (d Decision) Allowed() bool { return d.Result == Allowed }

// evalCtx carries one request through the evaluation; it resolves policy variables.
type evalCtx struct {
	req *Request
}

func (e *evalCtx) variable(key string) (string, bool) {
	v, ok := lookup(e.req.Context, key)
	if !ok || len(v.Values) != 1 || v.Type.IsList() {
		return "", false
	}
	return v.Values[0], true
}

// Evaluate decides req against set with AWS's policy evaluation logic.
func Evaluate(set *PolicySet, req *Request) Decision {
	var d Decision
	EvaluateInto(set, req, &d)
	return d
}

// EvaluateInto is Evaluate writing into d, reusing d.Deciding's storage: it does not allocate
// once d has room for the deciding statements.
func EvaluateInto(set *PolicySet, req *Request, d *Decision) {
	d.Result, d.Missing, d.Deciding = ImplicitDeny, "", d.Deciding[:0]
	e := evalCtx{req: req}

	// 1. An explicit deny in any policy wins.
	denied := false
	for _, p := range set.Identity {
		denied = p.collect(&e, true, d) || denied
	}
	if set.Boundary != nil {
		denied = set.Boundary.collect(&e, true, d) || denied
	}
	for _, level := range set.SCPs {
		for _, p := range level {
			denied = p.collect(&e, true, d) || denied
		}
	}
	for _, p := range set.ResourcePolicies {
		denied = p.collect(&e, true, d) || denied
	}
	if denied {
		d.Result = ExplicitDeny
		return
	}

	// 2. Every SCP level must allow.
	for i, level := range set.SCPs {
		allowed := false
		for _, p := range level {
			allowed = p.collect(&e, false, d) || allowed
		}
		if !allowed {
			d.Deciding = d.Deciding[:0]
			d.Missing = scpLevel(i)
			return
		}
	}

	// 3. Resource policies. In the principal's own account, an Allow that names the principal
	// (not merely its account) is enough on its own; across accounts both the resource policy
	// and the identity policies must allow.
	resourceAllowed, resourceNamed := false, false
	for _, p := range set.ResourcePolicies {
		a, named := p.collectResource(&e, d)
		resourceAllowed = resourceAllowed || a
		resourceNamed = resourceNamed || named
	}
	cross := crossAccount(req)
	if resourceNamed && !cross {
		d.Result = Allowed
		return
	}

	// 4. The permissions boundary must allow.
	if set.Boundary != nil && !set.Boundary.collect(&e, false, d) {
		d.Deciding = d.Deciding[:0]
		d.Missing = LayerBoundary
		return
	}

	// 5. Identity policies must allow.
	identity := false
	for _, p := range set.Identity {
		identity = p.collect(&e, false, d) || identity
	}
	switch {
	case !identity:
		d.Deciding = d.Deciding[:0]
		d.Missing = LayerIdentity
	case cross && !resourceAllowed:
		d.Deciding = d.Deciding[:0]
		d.Missing = LayerResource
	default:
		d.Result = Allowed
	}
}

var scpLevels = func() []string {
	s := make([]string, 16)
	for i := range s {
		s[i] = "scp level " + strconv.Itoa(i)
	}
	return s
}()

func scpLevel(i int) string {
	if i < len(scpLevels) {
		return scpLevels[i]
	}
	return "scp level " + strconv.Itoa(i)
}

// collect appends the statements of effect (deny or allow) that apply to the request and
// reports whether there was one.
func (p *Policy) collect(e *evalCtx, deny bool, d *Decision) bool {
	found := false
	for i := range p.compiled {
		s := &p.compiled[i]
		if s.deny != deny || !s.applies(e) {
			continue
		}
		if s.principal != nil && !s.principal.matches(e.req.Principal) {
			continue
		}
		d.Deciding = append(d.Deciding, s.ref)
		found = true
	}
	return found
}

// collectResource appends the Allow statements of a resource policy that apply; named reports
// whether one names the principal itself (or everyone) rather than its account.
func (p *Policy) collectResource(e *evalCtx, d *Decision) (allowed, named bool) {
	for i := range p.compiled {
		s := &p.compiled[i]
		if s.deny || !s.applies(e) {
			continue
		}
		ok, n := true, false
		if s.principal != nil {
			ok = s.principal.matches(e.req.Principal)
			n = ok && s.principal.names(e.req.Principal)
		}
		if !ok {
			continue
		}
		d.Deciding = append(d.Deciding, s.ref)
		allowed = true
		named = named || n
	}
	return allowed, named
}

// applies reports whether the statement's action, resource and conditions match the request.
func (s *cstatement) applies(e *evalCtx) bool {
	if !matchList(s.actions, e.req.Action, e) != s.notAction {
		return false
	}
	if len(s.resources) > 0 {
		matched := false
		for i := range s.resources {
			m, ok := s.resources[i].match(e.req.Resource, e)
			if !ok && s.notResource {
				// A NotResource entry whose variable has no value cannot prove the resource is
				// outside it: the statement does not apply.
				return false
			}
			if m {
				matched = true
				break
			}
		}
		if matched == s.notResource {
			return false
		}
	}
	for i := range s.conditions {
		if !s.conditions[i].eval(e) {
			return false
		}
	}
	return true
}

func matchList(pats []pattern, s string, e *evalCtx) bool {
	for i := range pats {
		if m, _ := pats[i].match(s, e); m {
			return true
		}
	}
	return false
}

// matches reports whether the Principal (or NotPrincipal) element covers the principal ARN.
func (c *cprincipal) matches(arn string) bool {
	in := c.wildcard
	if !in {
		acct := accountOf(arn)
		for _, id := range c.ids {
			if id == arn || (acct != "" && (id == acct || isAccountRoot(id, acct))) {
				in = true
				break
			}
		}
	}
	return in != c.not
}

// names reports whether the element names the principal itself or everyone.
func (c *cprincipal) names(arn string) bool {
	if c.not {
		return false
	}
	if c.wildcard {
		return true
	}
	for _, id := range c.ids {
		if id == arn {
			return true
		}
	}
	return false
}

// accountOf returns the fifth colon-separated field of an ARN (its account).
func accountOf(arn string) string {
	rest := arn
	for range 4 {
		i := strings.IndexByte(rest, ':')
		if i < 0 {
			return ""
		}
		rest = rest[i+1:]
	}
	i := strings.IndexByte(rest, ':')
	if i < 0 {
		return ""
	}
	return rest[:i]
}

func isAccountRoot(id, acct string) bool {
	return strings.HasPrefix(id, "arn:") && strings.HasSuffix(id, ":root") && accountOf(id) == acct
}

// crossAccount reports whether the resource belongs to an account other than the principal's.
func crossAccount(req *Request) bool {
	ra := req.ResourceAccount
	if ra == "" {
		ra = accountOf(req.Resource)
	}
	pa := accountOf(req.Principal)
	return ra != "" && pa != "" && ra != pa
}
