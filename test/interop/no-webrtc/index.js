// No WebRTC: simple-peer sees no RTCPeerConnection (WEBRTC_SUPPORT false), so WebTorrent and its tracker
// client make no WebRTC peers. The interop tests want none, and the real polyfill needs node-datachannel,
// whose install script downloads a prebuilt binary.
export const RTCPeerConnection = undefined;
export const RTCSessionDescription = undefined;
export const RTCIceCandidate = undefined;
export default {};
