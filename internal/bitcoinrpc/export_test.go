package bitcoinrpc

// DecodeReply exposes decodeReply to the fuzz test.
var DecodeReply = decodeReply
