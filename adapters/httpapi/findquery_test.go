package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFindByBody(t *testing.T) {
	api, _ := newTestAPI(t)
	for key, body := range map[string]string{
		"a": `{"age":25,"city":"Rome","tags":["x","y"],"address":{"zip":"1","street":"s"}}`,
		"b": `{"age":35,"city":"Rome"}`,
		"c": `{"age":45,"city":"Oslo","tags":["y"]}`,
		"d": `{"age":35,"city":"Bergen"}`,
	} {
		require.Equal(t, http.StatusOK, do(t, api, http.MethodPut, "/v1/collections/people/docs/"+key, body).Code)
	}
	find := func(body string) findReply {
		t.Helper()
		rec := do(t, api, http.MethodPost, "/v1/collections/people/find", body)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var r findReply
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &r))
		return r
	}
	keys := func(r findReply) []string {
		out := []string{}
		for _, d := range r.Documents {
			out = append(out, d.Key)
		}
		return out
	}
	require.Equal(t, []string{"a", "b", "c", "d"}, keys(find(`{}`)))
	require.Equal(t, []string{"a", "c"}, keys(find(`{"filter":{"tags":"y"}}`)))
	// Several sort fields, in the order written.
	require.Equal(t, []string{"c", "b", "d", "a"}, keys(find(`{"sort":{"age":-1,"city":-1}}`)))
	require.Equal(t, []string{"c", "d", "b", "a"}, keys(find(`{"sort":{"age":-1,"city":1}}`)))
	// Paging.
	r := find(`{"sort":{"age":1},"skip":1,"limit":2}`)
	require.Equal(t, []string{"b", "d"}, keys(r))
	require.True(t, r.More)
	require.Equal(t, 3, r.NextSkip)
	// Projection.
	r = find(`{"filter":{"city":"Rome"},"fields":["age","address.zip"]}`)
	require.JSONEq(t, `{"age":25,"address":{"zip":"1"}}`, string(r.Documents[0].Data))
	require.JSONEq(t, `{"age":35}`, string(r.Documents[1].Data))
	r = find(`{"filter":{"city":"Oslo"},"fields":{"tags":0,"city":0}}`)
	require.JSONEq(t, `{"age":45}`, string(r.Documents[0].Data))
	// A filter far beyond what a URL holds.
	vals := make([]string, 10_000)
	for i := range vals {
		vals[i] = fmt.Sprintf(`"city-%05d"`, i)
	}
	require.Equal(t, []string{"c"}, keys(find(`{"filter":{"city":{"$in":[`+strings.Join(vals, ",")+`,"Oslo"]}}}`)))
}

func TestFindByBodyRefuses(t *testing.T) {
	api, _ := newTestAPI(t)
	for name, tc := range map[string]struct {
		body, mention string
		status        int
	}{
		"not JSON":       {`{`, "find body", 400},
		"unknown member": {`{"where":{}}`, "where", 400},
		"trailing data":  {`{} {}`, "after", 400},
		"negative skip":  {`{"skip":-1}`, "negative", 400},
		"bad filter":     {`{"filter":{"a":{"$where":"x"}}}`, "$where", 400},
		"deep filter":    {`{"filter":` + strings.Repeat(`{"$and":[`, 80) + `{}` + strings.Repeat(`]}`, 80) + `}`, "100 levels", 400},
		"bad sort":       {`{"sort":{"a":2}}`, "1 or -1", 400},
		"sort array":     {`{"sort":["a"]}`, "object", 400},
		"bad fields":     {`{"fields":{"a":1,"b":0}}`, "both include and exclude", 400},
		"bad collection": {`{}`, "", 400},
	} {
		t.Run(name, func(t *testing.T) {
			path := "/v1/collections/people/find"
			if name == "bad collection" {
				path = "/v1/collections/_sys/find"
			}
			rec := do(t, api, http.MethodPost, path, tc.body)
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			e := errOf(t, rec)
			require.Equal(t, "INVALID_ARGUMENT", e.Code)
			require.Contains(t, e.Message, tc.mention)
		})
	}
	rec := do(t, api, http.MethodPost, "/v1/collections/people/find", `{"filter":{"a":"`+strings.Repeat("x", MaxFindBodyBytes)+`"}}`)
	require.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
}
