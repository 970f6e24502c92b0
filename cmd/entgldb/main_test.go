package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func runCLI(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

func TestExitCodesAndErrorFormat(t *testing.T) {
	down := closedPort(t)
	dir := t.TempDir()
	notADB := filepath.Join(dir, "garbage.db")
	require.NoError(t, os.WriteFile(notADB, bytes.Repeat([]byte("not a database "), 400), 0o644))

	cases := []struct {
		name string
		args []string
		exit int
		code string
	}{
		{"unknown command", []string{"frobnicate"}, exitUsage, "INVALID_ARGUMENT"},
		{"unknown flag", []string{"get", "--bogus", "c", "k"}, exitUsage, "INVALID_ARGUMENT"},
		{"missing arguments", []string{"put", "users"}, exitUsage, "INVALID_ARGUMENT"},
		{"node unreachable", []string{"--node", down, "get", "users", "k"}, exitUnreachable, "NETWORK_ERROR"},
		{"restore without flags", []string{"restore"}, exitUsage, "INVALID_ARGUMENT"},
		{"check a file that is not a database", []string{"check", "--db", notADB}, exitCorruption, "CORRUPTION"},
		{"backup without --out", []string{"backup", "--db", notADB}, exitUsage, "INVALID_ARGUMENT"},
		{"bad config file", []string{"serve", "--config", filepath.Join(dir, "missing.json")}, exitUsage, "CONFIG_ERROR"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := runCLI(t, "", tc.args...)
			require.Equal(t, tc.exit, code, errOut)
			require.True(t, strings.HasPrefix(errOut, fmt.Sprintf("error %s: ", tc.code)), "stderr %q", errOut)
		})
	}
}

func TestVersion(t *testing.T) {
	out, _, code := runCLI(t, "", "version")
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "entgldb ")
	require.Contains(t, out, "protocol v5")
	require.Contains(t, out, "go1.")
}

func TestReadJSONArg(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "doc.json")
	require.NoError(t, os.WriteFile(file, []byte(`{"from":"file"}`), 0o644))
	root := newRootCmd(strings.NewReader(`{"from":"stdin"}`), &bytes.Buffer{}, &bytes.Buffer{})

	got, err := readJSONArg(root, `{"from":"arg"}`)
	require.NoError(t, err)
	require.JSONEq(t, `{"from":"arg"}`, string(got))
	got, err = readJSONArg(root, "@"+file)
	require.NoError(t, err)
	require.JSONEq(t, `{"from":"file"}`, string(got))
	got, err = readJSONArg(root, "-")
	require.NoError(t, err)
	require.JSONEq(t, `{"from":"stdin"}`, string(got))
	_, err = readJSONArg(root, "@"+filepath.Join(dir, "nope.json"))
	require.Error(t, err)
}
