// Package org runs iamwarden over the accounts of an AWS Organization: List reads the active
// accounts (all of them, or those under some OUs, or a named few), Roles gives an SDK
// configuration per account (the caller's own one as is, the others through AssumeRole into the
// member role), and Each runs one unit of work per account with bounded concurrency, isolating
// each account's failure from the others.
//
// Listing needs the organization's management account or a delegated administrator:
// organizations:ListAccounts, ListAccountsForParent and ListOrganizationalUnitsForParent are
// refused to other member accounts.
package org

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"

	"github.com/iamwarden/iamwarden/internal/awsapi"
)

// API is the part of the Organizations client List uses; *organizations.Client satisfies it.
type API interface {
	organizations.ListAccountsAPIClient
	organizations.ListAccountsForParentAPIClient
	organizations.ListOrganizationalUnitsForParentAPIClient
}

// Account is one account of the organization.
type Account struct {
	ID    string
	Name  string
	Email string
	// Status is the account's state: ACTIVE for every account List returns.
	Status string
}

// StatusActive is the state of an account List returns.
const StatusActive = "ACTIVE"

// Selector narrows the organization's accounts. Each non-empty field narrows further: the zero
// Selector selects every active account.
type Selector struct {
	// OUs keeps the accounts anywhere under these OUs ("ou-…", nested OUs included) or roots
	// ("r-…", the whole organization).
	OUs []string
	// Accounts keeps only these account IDs. Each must be an active account of the
	// organization, under OUs when OUs are given: an ID that is not is an error naming it.
	Accounts []string
	// Exclude drops these account IDs. Excluding an account outside the organization is not an
	// error: it may have left.
	Exclude []string
}

var (
	accountIDPattern = regexp.MustCompile(`^[0-9]{12}$`)
	ouIDPattern      = regexp.MustCompile(`^ou-[0-9a-z]{4,32}-[0-9a-z]{8,32}$`)
	rootIDPattern    = regexp.MustCompile(`^r-[0-9a-z]{4,32}$`)
)

// pageSize is the MaxResults of the listing calls: the largest Organizations accepts.
const pageSize = 20

// ValidAccountID reports whether s is an AWS account ID: 12 digits.
func ValidAccountID(s string) bool { return accountIDPattern.MatchString(s) }

// SelectorError is a selector naming something the organization cannot match: an ID of the
// wrong form, an account that is not an active member, an OU that does not exist.
type SelectorError struct {
	// What is the kind of ID: "account", "OU", "excluded account".
	What string
	// IDs are the offending IDs, sorted.
	IDs []string
	// Reason says what is wrong with them.
	Reason string
}

func (e *SelectorError) Error() string {
	what := e.What
	if len(e.IDs) > 1 {
		what += "s"
	}
	return fmt.Sprintf("%s %s: %s", what, strings.Join(e.IDs, ", "), e.Reason)
}

// Hint says how to find the right IDs.
func (e *SelectorError) Hint() string {
	return "try: aws organizations list-accounts, or list-organizational-units-for-parent --parent-id r-…, for the organization's IDs"
}

// Validate checks the form of every ID: 12 digits for accounts, ou-… or r-… for OUs.
func (s Selector) Validate() error {
	if bad := invalid(s.OUs, func(id string) bool { return ouIDPattern.MatchString(id) || rootIDPattern.MatchString(id) }); len(bad) > 0 {
		return &SelectorError{What: "OU", IDs: bad, Reason: "not an OU ID (ou-ab12-cd34ef56) or a root ID (r-ab12)"}
	}
	if bad := invalid(s.Accounts, ValidAccountID); len(bad) > 0 {
		return &SelectorError{What: "account", IDs: bad, Reason: "not an account ID (12 digits)"}
	}
	if bad := invalid(s.Exclude, ValidAccountID); len(bad) > 0 {
		return &SelectorError{What: "excluded account", IDs: bad, Reason: "not an account ID (12 digits)"}
	}
	return nil
}

func invalid(ids []string, ok func(string) bool) []string {
	var bad []string
	for _, id := range ids {
		if !ok(id) {
			bad = append(bad, fmt.Sprintf("%q", id))
		}
	}
	slices.Sort(bad)
	return slices.Compact(bad)
}

// ListError is a failed Organizations call of List.
type ListError struct {
	Op   string // "organizations:ListAccounts"
	Kind awsapi.Kind
	Err  error
}

func (e *ListError) Error() string {
	if e.Kind == awsapi.Other {
		return fmt.Sprintf("%s: %v", e.Op, e.Err)
	}
	return fmt.Sprintf("%s: %s: %v", e.Op, e.Kind, e.Err)
}

func (e *ListError) Unwrap() error { return e.Err }

// Hint is the advice for the failure, empty when there is none. A refusal means the caller is
// neither the management account nor a delegated administrator.
func (e *ListError) Hint() string {
	switch {
	case errors.As(e.Err, new(*orgtypes.AWSOrganizationsNotInUseException)):
		return "try: run it with credentials of an organization's management account or delegated administrator: this account is in no organization"
	case e.Kind == awsapi.AccessDenied:
		return "try: run it with credentials of the organization's management account or of a delegated administrator account " +
			"(aws organizations register-delegated-administrator): other member accounts may not call organizations:ListAccounts; " +
			"the principal also needs organizations:ListAccounts, ListAccountsForParent and ListOrganizationalUnitsForParent"
	default:
		return awsapi.KindHint(e.Kind)
	}
}

func listError(op string, err error) error {
	kind := awsapi.ClassifyError(err)
	if errors.As(err, new(*orgtypes.AccessDeniedException)) {
		kind = awsapi.AccessDenied
	}
	return &ListError{Op: op, Kind: kind, Err: err}
}

// List returns the active accounts of the organization the selector keeps, sorted by ID. It
// pages through ListAccounts, and for each of sel.OUs walks the OU's subtree with
// ListOrganizationalUnitsForParent and ListAccountsForParent. Accounts that are not ACTIVE
// (suspended, pending closure or activation) are left out. A selector of the wrong form or
// naming what the organization lacks is a *SelectorError; a failed call a *ListError.
func List(ctx context.Context, api API, sel Selector) ([]Account, error) {
	if err := sel.Validate(); err != nil {
		return nil, err
	}
	all := map[string]Account{}
	pages := organizations.NewListAccountsPaginator(api, &organizations.ListAccountsInput{MaxResults: aws.Int32(pageSize)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, listError("organizations:ListAccounts", err)
		}
		for _, a := range page.Accounts {
			acct := toAccount(a)
			all[acct.ID] = acct
		}
	}

	var under map[string]bool // account IDs under sel.OUs; nil: no OU given
	if len(sel.OUs) > 0 {
		var err error
		if under, err = subtrees(ctx, api, sel.OUs); err != nil {
			return nil, err
		}
	}

	keep := func(id string) bool { return under == nil || under[id] }
	if len(sel.Accounts) > 0 {
		named := map[string]bool{}
		var missing, inactive, outside []string
		for _, id := range sel.Accounts {
			a, ok := all[id]
			switch {
			case !ok:
				missing = append(missing, id)
			case a.Status != StatusActive:
				inactive = append(inactive, id+" ("+a.Status+")")
			case !keep(id):
				outside = append(outside, id)
			}
			named[id] = true
		}
		if err := selectorError("account", missing, "not in the organization"); err != nil {
			return nil, err
		}
		if err := selectorError("account", inactive, "not ACTIVE"); err != nil {
			return nil, err
		}
		if err := selectorError("account", outside, "not under OU "+strings.Join(sel.OUs, ", ")); err != nil {
			return nil, err
		}
		keep = func(id string) bool { return named[id] }
	}
	excluded := map[string]bool{}
	for _, id := range sel.Exclude {
		excluded[id] = true
	}

	var out []Account
	for id, a := range all {
		if a.Status == StatusActive && keep(id) && !excluded[id] {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b Account) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func selectorError(what string, ids []string, reason string) error {
	if len(ids) == 0 {
		return nil
	}
	slices.Sort(ids)
	return &SelectorError{What: what, IDs: slices.Compact(ids), Reason: reason}
}

// toAccount reads the account's state from State, or from Status (to be retired by AWS) when
// the answer has no State.
func toAccount(a orgtypes.Account) Account {
	status := string(a.State)
	if status == "" {
		status = string(a.Status)
	}
	return Account{ID: aws.ToString(a.Id), Name: aws.ToString(a.Name), Email: aws.ToString(a.Email), Status: status}
}

// subtrees returns the IDs of the accounts anywhere under the parents, walking each OU's
// children breadth first.
func subtrees(ctx context.Context, api API, parents []string) (map[string]bool, error) {
	accounts := map[string]bool{}
	seen := map[string]bool{}
	queue := slices.Clone(parents)
	for len(queue) > 0 {
		parent := queue[0]
		queue = queue[1:]
		if seen[parent] {
			continue
		}
		seen[parent] = true
		notFound := func(err error) bool {
			return slices.Contains(parents, parent) &&
				(errors.As(err, new(*orgtypes.ParentNotFoundException)) ||
					errors.As(err, new(*orgtypes.OrganizationalUnitNotFoundException)))
		}

		acctPages := organizations.NewListAccountsForParentPaginator(api, &organizations.ListAccountsForParentInput{ParentId: aws.String(parent), MaxResults: aws.Int32(pageSize)})
		for acctPages.HasMorePages() {
			page, err := acctPages.NextPage(ctx)
			if notFound(err) {
				return nil, &SelectorError{What: "OU", IDs: []string{parent}, Reason: "not in the organization"}
			}
			if err != nil {
				return nil, listError("organizations:ListAccountsForParent", err)
			}
			for _, a := range page.Accounts {
				accounts[aws.ToString(a.Id)] = true
			}
		}
		ouPages := organizations.NewListOrganizationalUnitsForParentPaginator(api, &organizations.ListOrganizationalUnitsForParentInput{ParentId: aws.String(parent), MaxResults: aws.Int32(pageSize)})
		for ouPages.HasMorePages() {
			page, err := ouPages.NextPage(ctx)
			if err != nil {
				return nil, listError("organizations:ListOrganizationalUnitsForParent", err)
			}
			for _, ou := range page.OrganizationalUnits {
				queue = append(queue, aws.ToString(ou.Id))
			}
		}
	}
	return accounts, nil
}
