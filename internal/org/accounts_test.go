package org_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"

	"github.com/iamwarden/iamwarden/internal/awsapi"
	"github.com/iamwarden/iamwarden/internal/org"
)

// fakeOrg is an Organizations client made of function fields.
type fakeOrg struct {
	listAccounts          func(*organizations.ListAccountsInput) (*organizations.ListAccountsOutput, error)
	listAccountsForParent func(*organizations.ListAccountsForParentInput) (*organizations.ListAccountsForParentOutput, error)
	listOUsForParent      func(*organizations.ListOrganizationalUnitsForParentInput) (*organizations.ListOrganizationalUnitsForParentOutput, error)
	calls                 []string
}

var _ org.API = (*fakeOrg)(nil)

func (f *fakeOrg) ListAccounts(_ context.Context, in *organizations.ListAccountsInput, _ ...func(*organizations.Options)) (*organizations.ListAccountsOutput, error) {
	f.calls = append(f.calls, "ListAccounts "+aws.ToString(in.NextToken))
	return f.listAccounts(in)
}

func (f *fakeOrg) ListAccountsForParent(_ context.Context, in *organizations.ListAccountsForParentInput, _ ...func(*organizations.Options)) (*organizations.ListAccountsForParentOutput, error) {
	f.calls = append(f.calls, "ListAccountsForParent "+aws.ToString(in.ParentId)+" "+aws.ToString(in.NextToken))
	return f.listAccountsForParent(in)
}

func (f *fakeOrg) ListOrganizationalUnitsForParent(_ context.Context, in *organizations.ListOrganizationalUnitsForParentInput, _ ...func(*organizations.Options)) (*organizations.ListOrganizationalUnitsForParentOutput, error) {
	f.calls = append(f.calls, "ListOrganizationalUnitsForParent "+aws.ToString(in.ParentId)+" "+aws.ToString(in.NextToken))
	return f.listOUsForParent(in)
}

// tree is an organization: accounts by parent, OUs by parent, every answer paged by two.
type tree struct {
	accounts map[string][]orgtypes.Account // by parent ID
	ous      map[string][]string           // child OU IDs by parent ID
}

const (
	root   = "r-ab12"
	ouDev  = "ou-ab12-dev00001"
	ouApp  = "ou-ab12-app00001" // under ouDev
	ouDeep = "ou-ab12-deep0001" // under ouApp
	ouPrd  = "ou-ab12-prd00001"
)

func acct(id, state string) orgtypes.Account {
	return orgtypes.Account{Id: aws.String(id), Name: aws.String("name-" + id), Email: aws.String(id + "@example.com"), State: orgtypes.AccountState(state)}
}

// sample is root{111 mgmt, 222 suspended} / dev{333} / dev/app{444, 555} / dev/app/deep{666}
// / prd{777, 888 pending closure (Status only, as older answers)}.
func sample() *tree {
	legacy := acct("888888888888", "")
	legacy.Status = orgtypes.AccountStatusPendingClosure
	legacyActive := acct("777777777777", "")
	legacyActive.Status = orgtypes.AccountStatusActive
	return &tree{
		accounts: map[string][]orgtypes.Account{
			root:   {acct("111111111111", "ACTIVE"), acct("222222222222", "SUSPENDED")},
			ouDev:  {acct("333333333333", "ACTIVE")},
			ouApp:  {acct("555555555555", "ACTIVE"), acct("444444444444", "ACTIVE")},
			ouDeep: {acct("666666666666", "ACTIVE")},
			ouPrd:  {legacyActive, legacy},
		},
		ous: map[string][]string{root: {ouDev, ouPrd}, ouDev: {ouApp}, ouApp: {ouDeep}},
	}
}

// page returns items[token:token+2] and the next token.
func page[T any](items []T, token *string) ([]T, *string) {
	start := 0
	if token != nil {
		fmt.Sscan(*token, &start)
	}
	end := min(start+2, len(items))
	var next *string
	if end < len(items) {
		next = aws.String(fmt.Sprint(end))
	}
	return items[start:end], next
}

func (tr *tree) fake() *fakeOrg {
	known := func(id string) bool { _, a := tr.accounts[id]; _, o := tr.ous[id]; return a || o }
	return &fakeOrg{
		listAccounts: func(in *organizations.ListAccountsInput) (*organizations.ListAccountsOutput, error) {
			var all []orgtypes.Account
			for _, p := range slices.Sorted(maps.Keys(tr.accounts)) {
				all = append(all, tr.accounts[p]...)
			}
			items, next := page(all, in.NextToken)
			return &organizations.ListAccountsOutput{Accounts: items, NextToken: next}, nil
		},
		listAccountsForParent: func(in *organizations.ListAccountsForParentInput) (*organizations.ListAccountsForParentOutput, error) {
			if !known(aws.ToString(in.ParentId)) {
				return nil, &orgtypes.ParentNotFoundException{Message: aws.String("no parent")}
			}
			items, next := page(tr.accounts[aws.ToString(in.ParentId)], in.NextToken)
			return &organizations.ListAccountsForParentOutput{Accounts: items, NextToken: next}, nil
		},
		listOUsForParent: func(in *organizations.ListOrganizationalUnitsForParentInput) (*organizations.ListOrganizationalUnitsForParentOutput, error) {
			if !known(aws.ToString(in.ParentId)) {
				return nil, &orgtypes.ParentNotFoundException{Message: aws.String("no parent")}
			}
			var ous []orgtypes.OrganizationalUnit
			for _, id := range tr.ous[aws.ToString(in.ParentId)] {
				ous = append(ous, orgtypes.OrganizationalUnit{Id: aws.String(id)})
			}
			items, next := page(ous, in.NextToken)
			return &organizations.ListOrganizationalUnitsForParentOutput{OrganizationalUnits: items, NextToken: next}, nil
		},
	}
}

func ids(accounts []org.Account) []string {
	out := make([]string, 0, len(accounts))
	for _, a := range accounts {
		out = append(out, a.ID)
	}
	return out
}

func TestList(t *testing.T) {
	for _, tc := range []struct {
		name string
		sel  org.Selector
		want []string
	}{
		{"everything active, sorted; suspended and pending closure left out", org.Selector{},
			[]string{"111111111111", "333333333333", "444444444444", "555555555555", "666666666666", "777777777777"}},
		{"an OU's whole subtree", org.Selector{OUs: []string{ouDev}},
			[]string{"333333333333", "444444444444", "555555555555", "666666666666"}},
		{"a nested OU", org.Selector{OUs: []string{ouApp}}, []string{"444444444444", "555555555555", "666666666666"}},
		{"two OUs, one inside the other", org.Selector{OUs: []string{ouApp, ouDev, ouPrd}},
			[]string{"333333333333", "444444444444", "555555555555", "666666666666", "777777777777"}},
		{"the root", org.Selector{OUs: []string{root}},
			[]string{"111111111111", "333333333333", "444444444444", "555555555555", "666666666666", "777777777777"}},
		{"named accounts", org.Selector{Accounts: []string{"777777777777", "111111111111", "777777777777"}},
			[]string{"111111111111", "777777777777"}},
		{"named accounts under an OU", org.Selector{OUs: []string{ouDev}, Accounts: []string{"666666666666"}},
			[]string{"666666666666"}},
		{"exclusions, one outside the organization", org.Selector{OUs: []string{ouDev}, Exclude: []string{"444444444444", "999999999999"}},
			[]string{"333333333333", "555555555555", "666666666666"}},
		{"exclusion beats naming", org.Selector{Accounts: []string{"111111111111", "333333333333"}, Exclude: []string{"111111111111"}},
			[]string{"333333333333"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := sample().fake()
			got, err := org.List(context.Background(), fake, tc.sel)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), tc.want) {
				t.Errorf("List = %v\nwant   %v", ids(got), tc.want)
			}
			for _, a := range got {
				if a.Status != org.StatusActive || a.Name != "name-"+a.ID || a.Email != a.ID+"@example.com" {
					t.Errorf("account %+v", a)
				}
			}
		})
	}
}

// Every page of every call is read: ListAccounts pages by two, and so does each parent.
func TestListPaginates(t *testing.T) {
	fake := sample().fake()
	if _, err := org.List(context.Background(), fake, org.Selector{OUs: []string{ouDev}}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"ListAccounts ", "ListAccounts 2", "ListAccounts 4", "ListAccounts 6",
		"ListAccountsForParent " + ouDev + " ", "ListOrganizationalUnitsForParent " + ouDev + " ",
		"ListAccountsForParent " + ouApp + " ", "ListOrganizationalUnitsForParent " + ouApp + " ",
		"ListAccountsForParent " + ouDeep + " ", "ListOrganizationalUnitsForParent " + ouDeep + " ",
	}
	if !slices.Equal(fake.calls, want) {
		t.Errorf("calls\n%s\nwant\n%s", strings.Join(fake.calls, "\n"), strings.Join(want, "\n"))
	}

	// A parent with more than a page of accounts and OUs.
	big := &tree{accounts: map[string][]orgtypes.Account{root: nil}, ous: map[string][]string{}}
	var wantIDs []string
	for i := range 5 {
		ou := fmt.Sprintf("ou-ab12-sub%05d", i)
		big.ous[root] = append(big.ous[root], ou)
		id := fmt.Sprintf("%012d", 100000000000+i)
		big.accounts[ou] = []orgtypes.Account{acct(id, "ACTIVE")}
		big.accounts[root] = append(big.accounts[root], acct(fmt.Sprintf("%012d", 900000000000+i), "ACTIVE"))
		wantIDs = append(wantIDs, id)
	}
	got, err := org.List(context.Background(), big.fake(), org.Selector{OUs: []string{root}, Exclude: ids(toAccounts(big.accounts[root]))})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(got), wantIDs) {
		t.Errorf("List = %v, want %v", ids(got), wantIDs)
	}
}

func toAccounts(in []orgtypes.Account) []org.Account {
	var out []org.Account
	for _, a := range in {
		out = append(out, org.Account{ID: aws.ToString(a.Id)})
	}
	return out
}

func TestListSelectorErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sel   org.Selector
		calls bool     // whether AWS is called before the error
		want  []string // in the message
	}{
		{"short account ID", org.Selector{Accounts: []string{"12345"}}, false, []string{`account "12345"`, "12 digits"}},
		{"letters in an excluded ID", org.Selector{Exclude: []string{"12345678901a"}}, false, []string{`excluded account "12345678901a"`, "12 digits"}},
		{"OU without prefix", org.Selector{OUs: []string{"ab12-cd34ef56"}}, false, []string{`OU "ab12-cd34ef56"`, "ou-", "r-"}},
		{"an account ID as OU", org.Selector{OUs: []string{"111111111111"}}, false, []string{`OU "111111111111"`}},
		{"accounts not in the organization, all named", org.Selector{Accounts: []string{"999999999999", "111111111111", "987654321098"}}, true,
			[]string{"accounts 987654321098, 999999999999: not in the organization"}},
		{"a suspended account", org.Selector{Accounts: []string{"222222222222"}}, true, []string{"account 222222222222 (SUSPENDED): not ACTIVE"}},
		{"an account outside the OU", org.Selector{OUs: []string{ouApp}, Accounts: []string{"333333333333"}}, true,
			[]string{"account 333333333333: not under OU " + ouApp}},
		{"an unknown OU", org.Selector{OUs: []string{ouDev, "ou-ab12-nope0000"}}, true, []string{"OU ou-ab12-nope0000: not in the organization"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := sample().fake()
			_, err := org.List(context.Background(), fake, tc.sel)
			var se *org.SelectorError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want a *SelectorError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if se.Hint() == "" {
				t.Error("no hint")
			}
			if tc.calls != (len(fake.calls) > 0) {
				t.Errorf("calls %v", fake.calls)
			}
		})
	}
}

func TestListAccessDenied(t *testing.T) {
	fake := sample().fake()
	fake.listAccounts = func(*organizations.ListAccountsInput) (*organizations.ListAccountsOutput, error) {
		return nil, &orgtypes.AccessDeniedException{Message: aws.String("You don't have permissions to access this resource.")}
	}
	_, err := org.List(context.Background(), fake, org.Selector{})
	var le *org.ListError
	if !errors.As(err, &le) {
		t.Fatalf("err = %v, want a *ListError", err)
	}
	if le.Op != "organizations:ListAccounts" || le.Kind != awsapi.AccessDenied {
		t.Errorf("ListError %+v", le)
	}
	for _, w := range []string{"management account", "delegated administrator", "organizations:ListAccounts"} {
		if !strings.Contains(le.Hint(), w) {
			t.Errorf("hint %q does not say %q", le.Hint(), w)
		}
	}

	fake.listAccounts = func(*organizations.ListAccountsInput) (*organizations.ListAccountsOutput, error) {
		return nil, &orgtypes.AWSOrganizationsNotInUseException{Message: aws.String("not in use")}
	}
	_, err = org.List(context.Background(), fake, org.Selector{})
	if !errors.As(err, &le) || !strings.Contains(le.Hint(), "in no organization") {
		t.Errorf("err = %v, hint %q", err, le.Hint())
	}

	fake = sample().fake()
	fake.listOUsForParent = func(*organizations.ListOrganizationalUnitsForParentInput) (*organizations.ListOrganizationalUnitsForParentOutput, error) {
		return nil, &orgtypes.TooManyRequestsException{Message: aws.String("slow down")}
	}
	_, err = org.List(context.Background(), fake, org.Selector{OUs: []string{ouDev}})
	if !errors.As(err, &le) || le.Op != "organizations:ListOrganizationalUnitsForParent" || le.Kind != awsapi.Throttled {
		t.Errorf("err = %v", err)
	}
}
