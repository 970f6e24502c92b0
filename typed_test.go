package entgldb_test

import (
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	entgldb "github.com/entgldb/entgldb-go"
)

type user struct {
	Handle string `json:"handle" entgldb:"key"`
	Name   string `json:"name"`
	Age    int    `json:"age"`
}

type order struct {
	ID    string  `json:"id"`
	Total float64 `json:"total"`
}

type noKey struct{ Name string }

type intKey struct {
	N int `entgldb:"key"`
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestTypedHelpers(t *testing.T) {
	db := openLocal(t)
	ctx := t.Context()
	users := db.Collection("users")

	key, v, err := entgldb.Put(ctx, users, user{Handle: "ada", Name: "Ada", Age: 36})
	require.NoError(t, err)
	assert.Equal(t, "ada", key)
	got, gv, err := entgldb.Get[user](ctx, users, "ada")
	require.NoError(t, err)
	assert.Equal(t, user{Handle: "ada", Name: "Ada", Age: 36}, got)
	assert.Equal(t, v, gv)

	_, _, err = entgldb.Put(ctx, users, &user{Handle: "bob", Name: "Bob", Age: 20})
	require.NoError(t, err)
	found, err := entgldb.Find[user](ctx, users, entgldb.Query{OrderBy: &entgldb.Order{Path: "age"}})
	require.NoError(t, err)
	require.Len(t, found, 2)
	assert.Equal(t, "bob", found[0].Handle)

	// MongoDB filters and sort documents, several fields.
	_, _, err = entgldb.Put(ctx, users, user{Handle: "cid", Name: "Cid", Age: 36})
	require.NoError(t, err)
	f, err := entgldb.ParseFilter([]byte(`{"name":{"$regex":"^[ac]","$options":"i"}}`))
	require.NoError(t, err)
	sort, err := entgldb.ParseSort([]byte(`{"age":-1,"name":-1}`))
	require.NoError(t, err)
	found, err = entgldb.Find[user](ctx, users, entgldb.Query{Filter: f, Sort: sort})
	require.NoError(t, err)
	require.Len(t, found, 2)
	assert.Equal(t, []string{"cid", "ada"}, []string{found[0].Handle, found[1].Handle})

	// The ID field is the key when nothing is tagged; an empty key gets a UUID.
	orders := db.Collection("orders")
	o := &order{Total: 9.5}
	key, _, err = entgldb.Put(ctx, orders, o)
	require.NoError(t, err)
	assert.Regexp(t, uuidV4, key)
	assert.Equal(t, key, o.ID, "written back through the pointer")
	stored, _, err := entgldb.Get[order](ctx, orders, key)
	require.NoError(t, err)
	assert.Equal(t, *o, stored, "the generated key is in the document too")

	// By value: the key is generated and returned, the caller's copy untouched.
	byValue := order{Total: 1}
	key2, _, err := entgldb.Put(ctx, orders, byValue)
	require.NoError(t, err)
	assert.Regexp(t, uuidV4, key2)
	assert.NotEqual(t, key, key2)
	assert.Empty(t, byValue.ID)
}

func TestTypedHelperErrors(t *testing.T) {
	db := openLocal(t)
	ctx := t.Context()
	c := db.Collection("c")
	_, err := c.Put(ctx, "notuser", []byte(`{"age":"old"}`))
	require.NoError(t, err)

	cases := []struct {
		name string
		call func() error
		want *entgldb.Error
	}{
		{"no key field", func() error { _, _, err := entgldb.Put(ctx, c, noKey{Name: "x"}); return err }, entgldb.ErrInvalidArgument},
		{"key field not a string", func() error { _, _, err := entgldb.Put(ctx, c, intKey{N: 1}); return err }, entgldb.ErrInvalidArgument},
		{"not a struct", func() error { _, _, err := entgldb.Put(ctx, c, 42); return err }, entgldb.ErrInvalidArgument},
		{"nil pointer", func() error { _, _, err := entgldb.Put[*user](ctx, c, nil); return err }, entgldb.ErrInvalidArgument},
		{"bad collection", func() error {
			_, _, err := entgldb.Put(ctx, db.Collection("_sys"), user{Handle: "a"})
			return err
		}, entgldb.ErrInvalidArgument},
		{"get missing", func() error { _, _, err := entgldb.Get[user](ctx, c, "nobody"); return err }, entgldb.ErrNotFound},
		{"get undecodable", func() error { _, _, err := entgldb.Get[user](ctx, c, "notuser"); return err }, entgldb.ErrInvalidArgument},
		{"find undecodable", func() error { _, err := entgldb.Find[user](ctx, c, entgldb.Query{}); return err }, entgldb.ErrInvalidArgument},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.ErrorIs(t, tc.call(), tc.want)
		})
	}
}

func TestPutExpiringDisappears(t *testing.T) {
	db := openLocal(t)
	ctx := t.Context()
	sess := db.Collection("sessions")

	_, _, err := entgldb.PutWith(ctx, sess, user{Handle: "ada"}, entgldb.PutOptions{ExpiresAt: time.Now().Add(-time.Second)})
	require.Error(t, err, "an expiry in the past is refused")

	exp := time.Now().Add(300 * time.Millisecond)
	_, _, err = entgldb.PutWith(ctx, sess, user{Handle: "ada"}, entgldb.PutOptions{ExpiresAt: exp})
	require.NoError(t, err)
	_, err = sess.PutExpiring(ctx, "bob", []byte(`{"handle":"bob"}`), exp)
	require.NoError(t, err)
	d, err := sess.Get(ctx, "ada")
	require.NoError(t, err)
	require.Equal(t, exp.UnixMilli(), d.ExpiresAt)

	require.Eventually(t, func() bool {
		n, err := sess.Count(ctx, nil)
		return err == nil && n == 0
	}, 10*time.Second, 20*time.Millisecond)
	for _, k := range []string{"ada", "bob"} {
		_, err = sess.Get(ctx, k)
		require.Error(t, err, k)
	}
}
