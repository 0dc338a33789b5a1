package client

// ReadResponseForTest exposes the HTTP/1.1 parser to the external tests.
var ReadResponseForTest = readResponse
