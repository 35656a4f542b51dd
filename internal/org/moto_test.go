package org_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/iamwarden/iamwarden/internal/awsapi"
	"github.com/iamwarden/iamwarden/internal/mototest"
	"github.com/iamwarden/iamwarden/internal/org"
)

func must[T any](t *testing.T, what string) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

// as is a handle on the same server bound to another account.
func as(srv *mototest.Server, account string) *mototest.Server {
	s := *srv
	s.AccountID = account
	return &s
}

// trustProxy stands in front of moto for AssumeRole as AWS answers it: moto hands out
// credentials for any role ARN, existing or not, whatever its trust policy. The proxy refuses
// (AccessDenied) a role missing in its account, or whose trust policy expects another
// sts:ExternalId, and forwards everything else to moto.
func trustProxy(t *testing.T, srv *mototest.Server) string {
	target, err := url.Parse(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	forward := httputil.NewSingleHostReverseProxy(target)
	deny := func(w http.ResponseWriter, msg string) {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>%s</Message></Error><RequestId>proxy</RequestId></ErrorResponse>`, msg)
	}
	p := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		if form.Get("Action") != "AssumeRole" {
			forward.ServeHTTP(w, r)
			return
		}
		arn := form.Get("RoleArn")
		name := arn[strings.LastIndex(arn, "/")+1:]
		role, err := iam.NewFromConfig(as(srv, awsapi.ARNAccount(arn)).Config(r.Context())).GetRole(r.Context(), &iam.GetRoleInput{RoleName: aws.String(name)})
		if errors.As(err, new(*iamtypes.NoSuchEntityException)) {
			deny(w, "not authorized to perform: sts:AssumeRole on resource: "+arn)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		doc, _ := url.QueryUnescape(aws.ToString(role.Role.AssumeRolePolicyDocument))
		var trust struct {
			Statement []struct {
				Condition map[string]map[string]string
			}
		}
		if err := json.Unmarshal([]byte(doc), &trust); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		for _, st := range trust.Statement {
			if want, ok := st.Condition["StringEquals"]["sts:ExternalId"]; ok && want != form.Get("ExternalId") {
				deny(w, "not authorized to perform: sts:AssumeRole on resource: "+arn+" (ExternalId)")
				return
			}
		}
		forward.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p.URL
}

const trustPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},` +
	`"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"ext-moto"}}}]}`

// An organization in moto: accounts listed by OU subtree, then the unit of work run in each
// through the member role, landing in each account's own IAM.
func TestOrganizationInMoto(t *testing.T) {
	srv := mototest.Shared(t)
	ctx := context.Background()
	mgmt := srv.AccountID
	orgCfg := srv.Config(ctx)
	orgCalls := awsapi.NewCounter()
	orgCalls.Attach(&orgCfg)
	orgs := organizations.NewFromConfig(orgCfg)

	must[*organizations.CreateOrganizationOutput](t, "CreateOrganization")(orgs.CreateOrganization(ctx, &organizations.CreateOrganizationInput{FeatureSet: orgtypes.OrganizationFeatureSetAll}))
	roots := must[*organizations.ListRootsOutput](t, "ListRoots")(orgs.ListRoots(ctx, &organizations.ListRootsInput{}))
	rootID := aws.ToString(roots.Roots[0].Id)
	newOU := func(parent, name string) string {
		out := must[*organizations.CreateOrganizationalUnitOutput](t, "CreateOrganizationalUnit")(orgs.CreateOrganizationalUnit(ctx,
			&organizations.CreateOrganizationalUnitInput{ParentId: aws.String(parent), Name: aws.String(name)}))
		return aws.ToString(out.OrganizationalUnit.Id)
	}
	workloads := newOU(rootID, "workloads")
	prod := newOU(workloads, "prod")
	sandbox := newOU(rootID, "sandbox")
	newAccount := func(name, parent string) string {
		out := must[*organizations.CreateAccountOutput](t, "CreateAccount")(orgs.CreateAccount(ctx,
			&organizations.CreateAccountInput{AccountName: aws.String(name), Email: aws.String(name + "@example.com")}))
		id := aws.ToString(out.CreateAccountStatus.AccountId)
		must[*organizations.MoveAccountOutput](t, "MoveAccount")(orgs.MoveAccount(ctx, &organizations.MoveAccountInput{
			AccountId: aws.String(id), SourceParentId: aws.String(rootID), DestinationParentId: aws.String(parent)}))
		return id
	}
	web := newAccount("web", workloads)
	db := newAccount("db", prod)         // nested: workloads/prod
	norole := newAccount("legacy", prod) // no member role
	closed := newAccount("closed", prod)
	must[*organizations.CloseAccountOutput](t, "CloseAccount")(orgs.CloseAccount(ctx, &organizations.CloseAccountInput{AccountId: aws.String(closed)}))
	// More than a page (20) of accounts in the sandbox.
	var sandboxes []string
	for i := range 21 {
		sandboxes = append(sandboxes, newAccount(fmt.Sprintf("sandbox-%02d", i), sandbox))
	}

	sorted := func(ids ...string) []string { return slices.Sorted(slices.Values(ids)) }
	for _, tc := range []struct {
		name  string
		sel   org.Selector
		want  []string
		calls map[string]int
	}{
		{"the workloads subtree, the closed account left out", org.Selector{OUs: []string{workloads}}, sorted(web, db, norole),
			map[string]int{"organizations:ListAccounts": 2, "organizations:ListAccountsForParent": 2, "organizations:ListOrganizationalUnitsForParent": 2}},
		{"everything, 26 accounts in two pages", org.Selector{}, sorted(append([]string{mgmt, web, db, norole}, sandboxes...)...),
			map[string]int{"organizations:ListAccounts": 2}},
		{"the sandbox, past a page", org.Selector{OUs: []string{sandbox}, Exclude: []string{sandboxes[3]}},
			sorted(slices.Delete(slices.Clone(sandboxes), 3, 4)...),
			map[string]int{"organizations:ListAccounts": 2, "organizations:ListAccountsForParent": 2, "organizations:ListOrganizationalUnitsForParent": 1}},
		{"named accounts under the root", org.Selector{OUs: []string{rootID}, Accounts: []string{db, mgmt}}, sorted(db, mgmt), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := orgCalls.Snapshot()
			got := must[[]org.Account](t, "List")(org.List(ctx, orgs, tc.sel))
			if !slices.Equal(ids(got), tc.want) {
				t.Errorf("List = %v\nwant   %v", ids(got), tc.want)
			}
			for op, n := range tc.calls {
				if d := orgCalls.Snapshot()[op] - before[op]; d != n {
					t.Errorf("%d %s calls, want %d", d, op, n)
				}
			}
		})
	}
	_, err := org.List(ctx, orgs, org.Selector{Accounts: []string{closed}})
	var se *org.SelectorError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), closed) {
		t.Errorf("a closed account named: %v", err)
	}

	// The member role and a user in each member account but one; a user in the management
	// account, whose access key is the caller's credentials.
	mgmtIAM := iam.NewFromConfig(srv.Config(ctx))
	must[*iam.CreateUserOutput](t, "CreateUser")(mgmtIAM.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("hub")}))
	key := must[*iam.CreateAccessKeyOutput](t, "CreateAccessKey")(mgmtIAM.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("hub")}))
	for _, id := range []string{web, db, norole} {
		c := iam.NewFromConfig(as(srv, id).Config(ctx))
		must[*iam.CreateUserOutput](t, "CreateUser")(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("user-" + id)}))
		if id == norole {
			continue
		}
		must[*iam.CreateRoleOutput](t, "CreateRole")(c.CreateRole(ctx, &iam.CreateRoleInput{
			RoleName: aws.String("iamwarden-audit"), AssumeRolePolicyDocument: aws.String(fmt.Sprintf(trustPolicy, mgmt))}))
	}

	// The caller's configuration names no account: moto finds it from the access key, as it
	// does for the assumed credentials (the x-moto-account-id header would override both).
	base := aws.NewConfig()
	base.Region = mototest.Region
	base.BaseEndpoint = aws.String(trustProxy(t, srv))
	base.Credentials = aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(
		aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(key.AccessKey.SecretAccessKey), ""))
	counter := awsapi.NewCounter()
	counter.Attach(base)
	caller := must[string](t, "CallerAccount")(org.CallerAccount(ctx, sts.NewFromConfig(*base)))
	if caller != mgmt {
		t.Fatalf("caller account %s, want the management account %s", caller, mgmt)
	}
	roles := &org.Roles{Base: *base, RoleName: "iamwarden-audit", ExternalID: "ext-moto", CallerAccount: caller}

	accounts := must[[]org.Account](t, "List")(org.List(ctx, orgs, org.Selector{Accounts: []string{mgmt, web, db, norole}}))
	var mu sync.Mutex
	landed := map[string][]string{} // account -> GetCallerIdentity's account and the users listed
	failures := org.Each(ctx, accounts, 2, func(ctx context.Context, a org.Account) error {
		cfg, err := roles.Assume(ctx, a.ID)
		if err != nil {
			return err
		}
		id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			return err
		}
		users, err := iam.NewFromConfig(cfg).ListUsers(ctx, &iam.ListUsersInput{})
		if err != nil {
			return err
		}
		got := []string{aws.ToString(id.Account)}
		for _, u := range users.Users {
			got = append(got, aws.ToString(u.UserName))
		}
		mu.Lock()
		landed[a.ID] = got
		mu.Unlock()
		return nil
	}, nil)

	want := map[string][]string{mgmt: {mgmt, "hub"}, web: {web, "user-" + web}, db: {db, "user-" + db}}
	if len(landed) != len(want) {
		t.Errorf("ran in %v, want %v", landed, want)
	}
	for id, w := range want {
		if !slices.Equal(landed[id], w) {
			t.Errorf("account %s: identity and users %v, want %v", id, landed[id], w)
		}
	}
	if len(failures) != 1 || failures[0].Account.ID != norole {
		t.Fatalf("failures %v, want only %s", failures, norole)
	}
	var ae *org.AssumeError
	if !errors.As(failures[0].Err, &ae) || ae.Kind != awsapi.AccessDenied ||
		!strings.Contains(ae.Error(), norole) || !strings.Contains(ae.Error(), "role/iamwarden-audit") {
		t.Errorf("failure %v", failures[0].Err)
	}
	// One AssumeRole per member account, whatever the clients made.
	if got := counter.Snapshot()["sts:AssumeRole"]; got != 3 {
		t.Errorf("%d AssumeRole calls, want 3: %v", got, counter.Snapshot())
	}

	// A wrong external ID is refused.
	wrong := &org.Roles{Base: *base, RoleName: "iamwarden-audit", ExternalID: "ext-other", CallerAccount: caller}
	if _, err := wrong.Assume(ctx, web); !errors.As(err, &ae) || ae.Account != web {
		t.Errorf("wrong external ID: %v", err)
	}
}
