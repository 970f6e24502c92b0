package config

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTLSFilesAndInsecureHTTP(t *testing.T) {
	c := Default()
	cert, key := c.TLSFiles()
	require.Empty(t, cert+key, "TLS is off by default")
	require.False(t, c.InsecureHTTP(), "plain HTTP on loopback is not insecure")

	c.Http.TLSAuto = true
	cert, key = c.TLSFiles()
	require.Equal(t, filepath.Join("data", "tls.crt"), cert)
	require.Equal(t, filepath.Join("data", "tls.key"), key)

	c.Http.TLSAuto = false
	c.Http.TLSCertFile, c.Http.TLSKeyFile = "/etc/entgldb/c.pem", "/etc/entgldb/k.pem"
	cert, key = c.TLSFiles()
	require.Equal(t, "/etc/entgldb/c.pem", cert)
	require.Equal(t, "/etc/entgldb/k.pem", key)

	c.Http.TLSCertFile, c.Http.TLSKeyFile = "", ""
	c.Http.Address, c.Http.AllowInsecure = "0.0.0.0:5080", true
	require.True(t, c.InsecureHTTP())
	require.NoError(t, c.Validate())
	c.Http.TLSAuto = true
	require.False(t, c.InsecureHTTP())
}

// The settings load from the file and the environment like any other.
func TestTLSSettingsLoad(t *testing.T) {
	c, err := Load("", []string{"ENTGLDB__HTTP__ADDRESS=0.0.0.0:5080", "ENTGLDB__HTTP__TLSAUTO=true"}, nil)
	require.NoError(t, err)
	require.True(t, c.Http.TLSAuto)
	_, err = Load("", []string{"ENTGLDB__HTTP__ADDRESS=0.0.0.0:5080"}, nil)
	require.Error(t, err)
	c, err = Load("", []string{"ENTGLDB__HTTP__ADDRESS=0.0.0.0:5080", "ENTGLDB__HTTP__ALLOWINSECURE=true"}, nil)
	require.NoError(t, err)
	require.True(t, c.InsecureHTTP())
}
