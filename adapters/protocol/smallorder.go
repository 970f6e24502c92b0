package protocol

import "crypto/ed25519"

// smallOrderY are the y coordinates (sign bit of x cleared) of the ed25519
// points of order dividing 8, canonical and not: 0, 1, the two of the
// order-8 points, p-1, p and p+1 (libsodium's list). crypto/ed25519
// verifies against such a key a signature made without any private key
// for a fair share of messages, so a key among them proves nothing.
var smallOrderY = [][ed25519.PublicKeySize]byte{
	{0x00},
	{0x01},
	{0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0,
		0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05},
	{0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f,
		0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a},
	pMinus(1),
	pMinus(0),
	pMinus(-1),
}

// pMinus returns p-d (p = 2^255-19) little-endian, for |d| small.
func pMinus(d int) [ed25519.PublicKeySize]byte {
	var b [ed25519.PublicKeySize]byte
	for i := range b {
		b[i] = 0xff
	}
	b[31] = 0x7f
	b[0] = byte(0xed - d)
	return b
}

// isSmallOrderKey reports whether pub encodes a point of small order.
func isSmallOrderKey(pub []byte) bool {
	if len(pub) != ed25519.PublicKeySize {
		return false
	}
	var y [ed25519.PublicKeySize]byte
	copy(y[:], pub)
	y[31] &= 0x7f
	for _, s := range smallOrderY {
		if y == s {
			return true
		}
	}
	return false
}
