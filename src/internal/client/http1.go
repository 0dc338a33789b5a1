package client

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

var errMalformed = errors.New("malformed HTTP response")

// readResponse parses one HTTP/1.1 response: status line, headers, and a
// body framed by Content-Length, chunked encoding, or connection close.
func readResponse(r *bufio.Reader) (int, []byte, error) {
	line, err := readLine(r)
	if err != nil {
		return 0, nil, err
	}
	// "HTTP/1.1 200 OK"
	proto, rest, ok := strings.Cut(line, " ")
	if !ok || !strings.HasPrefix(proto, "HTTP/1.") {
		return 0, nil, fmt.Errorf("%w: status line %q", errMalformed, line)
	}
	code, _, _ := strings.Cut(rest, " ")
	status, err := strconv.Atoi(code)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: status line %q", errMalformed, line)
	}
	length, chunked := int64(-1), false
	for {
		line, err := readLine(r)
		if err != nil {
			return 0, nil, err
		}
		if line == "" {
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return 0, nil, fmt.Errorf("%w: header %q", errMalformed, line)
		}
		value = strings.TrimSpace(value)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "content-length":
			if length, err = strconv.ParseInt(value, 10, 64); err != nil || length < 0 {
				return 0, nil, fmt.Errorf("%w: Content-Length %q", errMalformed, value)
			}
		case "transfer-encoding":
			chunked = strings.EqualFold(value, "chunked")
		}
	}
	var body []byte
	switch {
	case chunked:
		body, err = readChunked(r)
	case length >= 0:
		if length > maxResponse {
			return 0, nil, fmt.Errorf("%w: body of %d bytes exceeds %d", errMalformed, length, maxResponse)
		}
		body = make([]byte, length)
		_, err = io.ReadFull(r, body)
	default:
		body, err = readLimited(r, maxResponse)
	}
	if err != nil {
		return 0, nil, fmt.Errorf("body: %w", err)
	}
	return status, body, nil
}

func readChunked(r *bufio.Reader) ([]byte, error) {
	var body []byte
	for {
		line, err := readLine(r)
		if err != nil {
			return nil, err
		}
		sizeHex, _, _ := strings.Cut(line, ";") // chunk extensions are ignored
		size, err := strconv.ParseInt(strings.TrimSpace(sizeHex), 16, 64)
		if err != nil || size < 0 {
			return nil, fmt.Errorf("%w: chunk size %q", errMalformed, line)
		}
		if size == 0 {
			break
		}
		if int64(len(body))+size > maxResponse {
			return nil, fmt.Errorf("%w: chunked body exceeds %d bytes", errMalformed, maxResponse)
		}
		chunk := make([]byte, size)
		if _, err := io.ReadFull(r, chunk); err != nil {
			return nil, err
		}
		body = append(body, chunk...)
		if crlf, err := readLine(r); err != nil || crlf != "" {
			return nil, fmt.Errorf("%w: missing CRLF after chunk", errMalformed)
		}
	}
	// Trailers, up to the empty line.
	for {
		line, err := readLine(r)
		if err != nil {
			return nil, err
		}
		if line == "" {
			return body, nil
		}
	}
}

func readLimited(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: body exceeds %d bytes", errMalformed, limit)
	}
	return data, nil
}

// readLine reads one CRLF- (or LF-) terminated line without the terminator.
func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		if errors.Is(err, io.EOF) && line == "" {
			return "", io.ErrUnexpectedEOF
		}
		if !errors.Is(err, io.EOF) {
			return "", err
		}
	}
	if len(line) > 64<<10 {
		return "", fmt.Errorf("%w: line too long", errMalformed)
	}
	return strings.TrimRight(line, "\r\n"), nil
}
