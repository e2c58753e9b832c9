package loginui

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestBeyondScopes(t *testing.T) {
	items := []claimItem{
		{Name: "email"},
		{Name: "name", Essential: true},
		{Name: "given_name", Purpose: "to greet you"},
		{Name: "nickname"},
		{Name: "employee_id"},
	}
	got := beyondScopes(items, []string{"openid", "email", "profile"})
	want := []claimItem{
		{Name: "name", Essential: true},
		{Name: "given_name", Purpose: "to greet you"},
		{Name: "employee_id"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("beyondScopes (-want +got):\n%s", d)
	}
	if got := beyondScopes(items, nil); len(got) != len(items) {
		t.Errorf("without scopes every claim must stay listed, got %d of %d", len(got), len(items))
	}
}
