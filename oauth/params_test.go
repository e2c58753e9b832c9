package oauth

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

func TestCheckParams(t *testing.T) {
	many := url.Values{}
	for i := range MaxParams + 1 {
		many.Set(fmt.Sprintf("p%d", i), "x")
	}
	repeated := url.Values{"resource": make([]string, MaxParams+1)}
	for _, tc := range []struct {
		name   string
		v      url.Values
		sizes  bool
		wantOK bool
		want   string // in the description
	}{
		{"plain", url.Values{"state": {"abc"}, "scope": {"openid email"}}, true, true, ""},
		{"unicode", url.Values{"login_hint": {"jürgen@exämple.org"}}, true, true, ""},
		{"NUL in state", url.Values{"state": {"a\x00b"}}, true, false, "parameter state contains a control character"},
		{"ESC in nonce", url.Values{"nonce": {"a\x1bb"}}, true, false, "parameter nonce contains"},
		{"DEL", url.Values{"state": {"a\x7f"}}, true, false, "control character"},
		{"C1", url.Values{"state": {"a\u0085"}}, true, false, "control character"},
		{"newline in state", url.Values{"state": {"a\nb"}}, true, false, "control character"},
		{"newline in claims", url.Values{"claims": {"{\n\"userinfo\":{}}"}}, true, true, ""},
		{"NUL in claims", url.Values{"claims": {"{\x00}"}}, true, false, "parameter claims"},
		{"invalid UTF-8", url.Values{"state": {"\xff\xfe"}}, true, false, "invalid UTF-8"},
		{"invalid UTF-8 name", url.Values{"\xff": {"x"}}, true, false, "parameter name"},
		{"long name", url.Values{strings.Repeat("n", MaxParamNameBytes+1): {"x"}}, true, false, "parameter name longer"},
		{"state at the bound", url.Values{"state": {strings.Repeat("s", MaxParamBytes)}}, true, true, ""},
		{"state over the bound", url.Values{"state": {strings.Repeat("s", MaxParamBytes+1)}}, true, false, "parameter state longer than 4096 bytes"},
		{"state over the bound, sizes off", url.Values{"state": {strings.Repeat("s", MaxParamBytes+1)}}, false, true, ""},
		{"claims may be larger", url.Values{"claims": {strings.Repeat("c", MaxLargeParamBytes)}}, true, true, ""},
		{"claims over its bound", url.Values{"claims": {strings.Repeat("c", MaxLargeParamBytes+1)}}, true, false, "longer than 32768"},
		{"too many", many, true, false, "too many parameters"},
		{"too many repeats", repeated, true, false, "too many parameters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckParams(tc.v, ParamLimits{ValueSizes: tc.sizes})
			if tc.wantOK {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if err.Code != "invalid_request" || err.Status != 400 || !strings.Contains(err.Description, tc.want) {
				t.Errorf("got %s %d %q, want invalid_request 400 containing %q", err.Code, err.Status, err.Description, tc.want)
			}
		})
	}
}
