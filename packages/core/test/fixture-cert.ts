// Test fixture: a self-signed CA certificate (public, no key kept; valid until 2126) for tests that need a real one
// without the test servers. Must not: hold anything secret.

export const FIXTURE_CA_PEM = `-----BEGIN CERTIFICATE-----
MIIBlDCCATugAwIBAgIUcvh4yzR3ZeL/Pq81fBp8y5YuOS4wCgYIKoZIzj0EAwIw
HzEdMBsGA1UEAwwUY29ubmNoZWNrIGZpeHR1cmUgQ0EwIBcNMjYxMTIyMDIyODI0
WhgPMjEyNjEwMjkwMjI4MjRaMB8xHTAbBgNVBAMMFGNvbm5jaGVjayBmaXh0dXJl
IENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE0+jw8g3L+NMMP8i22V9kmSZN
BfmPwCG3JHbSV4kOeT6kIJIM6jO4TkxPBXgLlHlKVaPPfZYGttJwWgcI5AJqVKNT
MFEwHQYDVR0OBBYEFK16jRmhQsK5syUkNiCxCuFAxNnZMB8GA1UdIwQYMBaAFK16
jRmhQsK5syUkNiCxCuFAxNnZMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwID
RwAwRAIgUQ9JhVESMMN02g4spARntaBKdqGdnhus9e2ioN6NwiACIDWz4qdfDmay
R3J4R/nvjgoGlrAfpKYJetbEIy0CoInM
-----END CERTIFICATE-----
`;

export const base64 = (text: string | Buffer): string => Buffer.from(text).toString('base64');
