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
	// SessionPolicies are the session policies of a role or federated user session (the inline
	// policy and the managed policy ARNs passed when the session was created). When there are
	// any, one of them must allow too: the session gets the intersection of its identity
	// policies and its session policies.
	SessionPolicies []*Policy
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
	LayerSession  = "session"
)

// Rules of AWS that decide a request before any policy, named by Decision.Rule.
const (
	// RuleGetSessionToken: "No permissions are required for a user to get a session token ...
	// You cannot use policies to control authentication operations" (IAM User Guide,
	// Permissions for GetSessionToken).
	RuleGetSessionToken = "sts:GetSessionToken needs no permission and no policy can deny it"
	// RuleGetSessionTokenLongTerm: GetSessionToken must be called with long-term credentials
	// of an IAM user or of the root user, never with a role or federated user session.
	RuleGetSessionTokenLongTerm = "sts:GetSessionToken can only be called with an IAM user's or the root user's long-term credentials"
)

// Decision is the answer to a request, with its reasons. For ExplicitDeny, Deciding lists the
// matching Deny statements; for Allowed, the Allow statements of every layer that matched; for
// ImplicitDeny, Missing names the layer without an Allow ("identity", "boundary", "resource" or
// "scp level N", 0 being the organization root, or "session"). Rule is set, and Deciding empty,
// when a rule of AWS rather than a policy statement decided (RuleGetSessionToken...).
type Decision struct {
	Result   Result
	Deciding []StatementRef
	Missing  string
	Rule     string
}

// Allowed reports whether the request is allowed.
func (d Decision) Allowed() bool { return d.Result == Allowed }

// evalCtx carries one request through the evaluation; it resolves policy variables.
type evalCtx struct {
	req  *Request
	sess session
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
	d.Result, d.Missing, d.Rule, d.Deciding = ImplicitDeny, "", "", d.Deciding[:0]
	e := evalCtx{req: req, sess: parseSession(req.Principal)}

	if strings.EqualFold(req.Action, "sts:GetSessionToken") {
		if e.sess.isSession {
			d.Rule = RuleGetSessionTokenLongTerm
		} else {
			d.Result, d.Rule = Allowed, RuleGetSessionToken
		}
		return
	}

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
	for _, p := range set.SessionPolicies {
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
	// itself (a user, a role session, or everyone) is enough on its own; one that names the
	// role of a role session grants to the session within its permissions boundary and session
	// policies; one that names only the account delegates to identity policies. Across
	// accounts both the resource policy and the identity policies must allow.
	var rs resourceGrant
	for _, p := range set.ResourcePolicies {
		p.collectResource(&e, d, &rs)
	}
	cross := crossAccount(req)
	if rs.named && !cross {
		d.Result = Allowed
		return
	}
	viaRole := rs.role && !cross

	// 4. The permissions boundary must allow.
	if set.Boundary != nil && !set.Boundary.collect(&e, false, d) {
		d.Deciding = d.Deciding[:0]
		d.Missing = LayerBoundary
		return
	}

	// 5. Identity policies must allow, unless a resource policy granted the session's role.
	identity := false
	for _, p := range set.Identity {
		identity = p.collect(&e, false, d) || identity
	}
	if !identity && !viaRole {
		d.Deciding = d.Deciding[:0]
		d.Missing = LayerIdentity
		return
	}
	if cross && !rs.allowed {
		d.Deciding = d.Deciding[:0]
		d.Missing = LayerResource
		return
	}

	// 6. Session policies, when the session has any, must allow.
	if len(set.SessionPolicies) > 0 {
		allowed := false
		for _, p := range set.SessionPolicies {
			allowed = p.collect(&e, false, d) || allowed
		}
		if !allowed {
			d.Deciding = d.Deciding[:0]
			d.Missing = LayerSession
			return
		}
	}
	d.Result = Allowed
}

// session describes the principal of a request when it holds temporary credentials:
// arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION or arn:aws:sts::ACCOUNT:federated-user/NAME.
type session struct {
	isSession bool
	account   string
	role      string // the role's name, for assumed-role sessions
}

func parseSession(arn string) session {
	if !strings.HasPrefix(arn, "arn:") || arnField(arn, 2) != "sts" {
		return session{}
	}
	s := session{isSession: true, account: accountOf(arn)}
	if rest, ok := strings.CutPrefix(resourceOf(arn), "assumed-role/"); ok {
		s.role, _, _ = strings.Cut(rest, "/")
	}
	return s
}

// roleOf reports whether id is the ARN of the session's role, arn:aws:iam::ACCOUNT:role/PATH/ROLE
// (a session ARN does not carry the role's path).
func (s *session) roleOf(id string) bool {
	if s.role == "" || !strings.HasPrefix(id, "arn:") || arnField(id, 2) != "iam" || accountOf(id) != s.account {
		return false
	}
	res := resourceOf(id)
	return strings.HasPrefix(res, "role/") && res[strings.LastIndexByte(res, '/')+1:] == s.role
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
		if s.principal != nil && !s.principal.matches(e.req.Principal, &e.sess) {
			continue
		}
		d.Deciding = append(d.Deciding, s.ref)
		found = true
	}
	return found
}

// resourceGrant is what the Allow statements of resource policies grant the request.
type resourceGrant struct {
	allowed bool // some Allow applies, whomever it names
	named   bool // one names the principal itself (or everyone) rather than its account
	role    bool // one names the role of the principal's role session
}

// collectResource appends the Allow statements of a resource policy that apply.
func (p *Policy) collectResource(e *evalCtx, d *Decision, g *resourceGrant) {
	for i := range p.compiled {
		s := &p.compiled[i]
		if s.deny || !s.applies(e) {
			continue
		}
		named, role := false, false
		if s.principal != nil {
			if !s.principal.matches(e.req.Principal, &e.sess) {
				continue
			}
			named = s.principal.names(e.req.Principal)
			role = !named && s.principal.namesRole(&e.sess)
		}
		d.Deciding = append(d.Deciding, s.ref)
		g.allowed = true
		g.named = g.named || named
		g.role = g.role || role
	}
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

// matches reports whether the Principal (or NotPrincipal) element covers the principal ARN; a
// role's ARN covers its sessions.
func (c *cprincipal) matches(arn string, sess *session) bool {
	in := c.wildcard
	if !in {
		acct := accountOf(arn)
		for _, id := range c.ids {
			if id == arn || (acct != "" && (id == acct || isAccountRoot(id, acct))) || sess.roleOf(id) {
				in = true
				break
			}
		}
	}
	return in != c.not
}

// namesRole reports whether the element names the role of the session.
func (c *cprincipal) namesRole(sess *session) bool {
	if c.not || sess.role == "" {
		return false
	}
	for _, id := range c.ids {
		if sess.roleOf(id) {
			return true
		}
	}
	return false
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
func accountOf(arn string) string { return arnField(arn, 4) }

// resourceOf returns the resource field of an ARN (after the fifth colon).
func resourceOf(arn string) string { return arnField(arn, 5) }

// arnField returns the colon-separated field i (0-based) of an ARN; the resource field (5) runs
// to the end.
func arnField(arn string, i int) string {
	rest := arn
	for range i {
		j := strings.IndexByte(rest, ':')
		if j < 0 {
			return ""
		}
		rest = rest[j+1:]
	}
	if i == 5 {
		return rest
	}
	if j := strings.IndexByte(rest, ':'); j >= 0 {
		return rest[:j]
	}
	return ""
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
