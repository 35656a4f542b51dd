// Package access works out the policies that govern an IAM user's requests, from a snapshot of
// the account: the user's inline and attached policies, those of the user's groups, the
// permissions boundary and the organization's SCPs. Each managed and group policy is compiled once and shared by every user
// who holds it.
package access

import (
	"fmt"
	"sync"

	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/policy"
)

// Resolver builds policy sets for the users of one snapshot.
type Resolver struct {
	managed map[string]*policy.Policy // by ARN
	groups  map[string][]*policy.Policy
	// attached lists each group's attached managed policy ARNs.
	attached map[string][]string
	// broken says why a managed policy or group cannot be used, by ARN or group name.
	broken map[string]string
	// scps holds the SCPs by level, root first; nil when none apply or they are not known.
	scps [][]*policy.Policy
	// scpsNotEvaluated says why SCPs that may apply are not in the sets.
	scpsNotEvaluated string

	mu    sync.Mutex
	cache map[*inventory.User]resolved
}

type resolved struct {
	set *policy.PolicySet
	err error
}

// NewResolver compiles the snapshot's managed and group policies.
func NewResolver(s *inventory.Snapshot) *Resolver {
	r := &Resolver{managed: map[string]*policy.Policy{}, groups: map[string][]*policy.Policy{}, attached: map[string][]string{}, broken: map[string]string{}, cache: map[*inventory.User]resolved{}}
	for arn, mp := range s.Policies {
		if mp.Document == "" {
			r.broken[arn] = "policy document not read"
			continue
		}
		p, err := policy.Parse(mp.Name, []byte(mp.Document), policy.KindIdentity)
		if err != nil {
			r.broken[arn] = err.Error()
			continue
		}
		r.managed[arn] = p
	}
	r.scps, r.scpsNotEvaluated = compileSCPs(s.SCPs)
	for name, g := range s.Groups {
		r.attached[name] = g.AttachedPolicies
		var ps []*policy.Policy
		for _, ip := range g.InlinePolicies {
			p, err := policy.Parse("group "+name+" inline "+ip.Name, []byte(ip.Document), policy.KindIdentity)
			if err != nil {
				r.broken["group "+name] = err.Error()
				ps = nil
				break
			}
			ps = append(ps, p)
		}
		if _, bad := r.broken["group "+name]; !bad {
			r.groups[name] = ps
		}
	}
	return r
}

// PolicySet returns the policies that apply to u's requests. It fails, naming the policy, when
// one of them is unknown or invalid: a partial set would understate what is denied. Answers are
// kept per user.
func (r *Resolver) PolicySet(u *inventory.User) (*policy.PolicySet, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.cache[u]; ok {
		return c.set, c.err
	}
	set, err := r.build(u)
	r.cache[u] = resolved{set, err}
	return set, err
}

func (r *Resolver) build(u *inventory.User) (*policy.PolicySet, error) {
	set := &policy.PolicySet{SCPs: r.scps}
	for _, ip := range u.InlinePolicies {
		p, err := policy.Parse("user "+u.Name+" inline "+ip.Name, []byte(ip.Document), policy.KindIdentity)
		if err != nil {
			return nil, fmt.Errorf("inline policy %s: %w", ip.Name, err)
		}
		set.Identity = append(set.Identity, p)
	}
	for _, arn := range u.AttachedPolicies {
		p, err := r.managedPolicy(arn)
		if err != nil {
			return nil, err
		}
		set.Identity = append(set.Identity, p)
	}
	for _, g := range u.Groups {
		if why, bad := r.broken["group "+g]; bad {
			return nil, fmt.Errorf("group %s: %s", g, why)
		}
		ps, ok := r.groups[g]
		if !ok {
			return nil, fmt.Errorf("group %s: not in the authorization details", g)
		}
		set.Identity = append(set.Identity, ps...)
		for _, arn := range r.attached[g] {
			p, err := r.managedPolicy(arn)
			if err != nil {
				return nil, fmt.Errorf("group %s: %w", g, err)
			}
			set.Identity = append(set.Identity, p)
		}
	}
	if u.PermissionsBoundary != "" {
		p, err := r.managedPolicy(u.PermissionsBoundary)
		if err != nil {
			return nil, fmt.Errorf("permissions boundary: %w", err)
		}
		set.Boundary = p
	}
	return set, nil
}

func (r *Resolver) managedPolicy(arn string) (*policy.Policy, error) {
	if p, ok := r.managed[arn]; ok {
		return p, nil
	}
	if why, bad := r.broken[arn]; bad {
		return nil, fmt.Errorf("managed policy %s: %s", arn, why)
	}
	return nil, fmt.Errorf("managed policy %s: document not in the data", arn)
}

// SCPsNotEvaluated says why the SCPs, which may govern the users, are not in the policy sets:
// they could not be read, or one of them is not a valid SCP. Empty when they are in the sets or
// when none apply.
func (r *Resolver) SCPsNotEvaluated() string { return r.scpsNotEvaluated }

func compileSCPs(s *inventory.SCPs) ([][]*policy.Policy, string) {
	switch {
	case s == nil:
		return nil, "not read"
	case s.State == inventory.SCPsNone:
		return nil, ""
	case s.State != inventory.SCPsRead:
		return nil, s.Reason
	}
	levels := make([][]*policy.Policy, 0, len(s.Levels))
	for _, l := range s.Levels {
		ps := make([]*policy.Policy, 0, len(l.Policies))
		for _, sp := range l.Policies {
			name := sp.Name
			if name == "" {
				name = sp.ID
			}
			p, err := policy.Parse(name, []byte(sp.Document), policy.KindSCP)
			if err != nil {
				return nil, fmt.Sprintf("SCP %s of %s: %v", name, l.Target, err)
			}
			ps = append(ps, p)
		}
		levels = append(levels, ps)
	}
	return levels, ""
}
