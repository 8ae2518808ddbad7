import { callStrings } from "./calls";
import { fileStrings } from "./files";
import { networkStrings } from "./network";
import { telemetryStrings } from "./telemetry";

/**
 * Every user-visible string, in one place, ready for translation: a translation is another object
 * of type `Strings`. Placeholders are `{name}`, filled by `format`.
 */
export const en = {
  appName: "GhostChat",
  skipToContent: "Skip to content",
  errorTitle: "Could not connect",
  tagline: "Private, ephemeral chat that goes straight from your browser to your friend's.",
  intro: "GhostChat connects two browsers directly over an encrypted WebRTC channel, with no account and no phone number.",
  noStorage: "Nothing you write is stored: no server keeps your messages, and closing the tab leaves none behind.",
  newRoom: "New room",
  inviteHeading: "Invite a friend",
  inviteHelp: "Send this link over any channel. Whoever opens it joins this chat. The secret part after # never reaches a server.",
  inviteLinkLabel: "Invite link",
  inviteExpires: "Valid until {time}",
  copy: "Copy",
  copied: "Copied",
  copyFailed: "Copy failed: select the link and copy it yourself",
  qrLabel: "QR code of the invite link",
  waitingForPeer: "Waiting for your friend to open the link…",
  settings: "Server settings",
  settingsHelp:
    "Use another GhostChat or PeerJS server. Saved in this browser only. This site's security policy lets the app connect only to servers its operator allows.",
  settingsCustom: "Use a custom server",
  settingsHost: "Signaling host",
  settingsPort: "Port",
  settingsPath: "Path",
  settingsKey: "Key",
  settingsSecure: "Use TLS (wss/https)",
  settingsIce: "ICE servers, one per line: URL [username credential]",
  settingsSave: "Save",
  settingsSaved: "Settings saved",
  settingsClose: "Close",
  settingsErrorHost: "Enter a host name or IP address.",
  settingsErrorPort: "Enter a port from 1 to 65535.",
  settingsErrorPath: "The path must start with / and contain only URL-safe characters.",
  settingsErrorKey: "Enter a key of letters, digits, - or _.",
  settingsErrorBlocked:
    "This site's security policy does not let the app connect to {origins}: its operator allows only its own server and the ones they listed. Ask them to add this server, or open GhostChat from that server's own address.",
  settingsErrorIce: "Each line needs a stun:, turn: or turns: URL; turn servers also need a username and credential.",
  statusIce: "Getting network settings…",
  statusSignaling: "Connecting to the server… (attempt {attempt} of {total})",
  statusSignalingRetry: "Could not reach the server, trying again in {seconds} s…",
  statusPeer: "Connecting to your friend… (attempt {attempt} of {total})",
  statusPeerRetry: "Could not reach your friend, trying again in {seconds} s…",
  statusConnected: "Connected — end-to-end over WebRTC",
  statusPeerLeft: "Your friend left the chat.",
  statusReconnecting: "Connection lost, reconnecting… Messages you write now are sent when it is back.",
  statusUnreachable: "Your friend has been unreachable for a while — messages wait and are delivered when they are back.",
  statusMembersUnreachable: "Nobody in the room has been reachable for a while — messages wait and are delivered when people are back.",
  waitingForMembers: "Waiting for people to open the link…",
  statusFailed: "Could not connect: {reason}",
  statusOffline: "You are offline. GhostChat needs a network to connect; the app will work again when you are back online.",
  errorServerUnreachable: "the server did not answer. Check your connection, or the host, port, path and key in the server settings.",
  errorServerRefused: "the server refused the connection. Check the key and path in the server settings.",
  errorPeerUnreachable: "your friend's browser did not answer. The link may be old, or the host closed the tab.",
  errorIdTaken: "this room's host is already connected somewhere else.",
  errorRoomFull: "this room already has two people.",
  retry: "Try again",
  inviteExpired: "This invite has expired. Ask for a new link.",
  inviteMalformed: "This link is not a valid GhostChat invite.",
  inviteUnsupported: "This invite was made by a newer GhostChat. Reload the page.",
  home: "Back to start",
  messagesLabel: "Messages",
  composerLabel: "Message",
  composerPlaceholder: "Write a message — Enter sends, Shift+Enter adds a line",
  send: "Send",
  counter: "{count} / {max}",
  tooLong: "Too long: {over} characters over the limit.",
  typing: "Your friend is typing…",
  typingNamed: "{names} typing…",
  nameLabel: "Your name",
  nameHelp: "Anyone can choose any name: a name is only a label. The verification code is what proves who is who.",
  nameSaved: "Name saved in this browser and shown to the others.",
  install: "Install GhostChat",
  installIos: "To keep GhostChat on your Home Screen: tap the Share button, then “Add to Home Screen”.",
  installDone: "Installed: GhostChat opens from your apps from now on.",
  installLater: "Not installed. You can install it later from here or from the browser's menu.",
  share: "Share",
  sharedWaiting: "What you shared is waiting in the message box: start a room or open an invite, then press Send.",
  shareInviteText: "Join me for a private chat on GhostChat (the link works once, for a limited time):",
  shareFailed: "Sharing did not work: the link was copied instead.",
  notifyOff: "🔕 Notify me",
  notifyOn: "🔔 Notifying",
  notifyHelp:
    "Notifications tell you about new messages while this page is hidden. They say who wrote, not what, unless you turn on “Show message text in notifications”. Your browser asks for permission the first time.",
  notifyPreviews: "Show message text in notifications",
  notifyDenied: "The browser did not allow notifications. You can allow them for this site in the browser's site settings.",
  notifyUnsupported: "This browser cannot show notifications for this page.",
  notifyTitle: "New message from {from}",
  notifyBody: "Open GhostChat to read it.",
  titleUnread: "({count}) {title}",
  hideIp: "Hide my IP",
  hideIpHelp:
    "Hide my IP (top of the page): the people in your rooms, and anyone who knows a room's address, see the relay server's address instead of yours. Connecting takes a moment longer, and it needs the server's relay. It stays on in this browser until you turn it off.",
  hideIpOn: "Your IP address is hidden: every connection now goes through the relay.",
  hideIpOff: "Direct connections are allowed again for new connections.",
  memberCode: "code {code}",
  appBuild: "This app's build:",
  appBuildUnknown: "unknown (not a release build)",
  memberRemove: "Remove",
  memberRemoveLabel: "Remove {name} from the room",
  memberRemovedNote: "{name} was removed from the room. Their invite link no longer works.",
  selfDestruct: "Self-destruct",
  selfDestructOff: "Off",
  selfDestructSeconds: "{n} s",
  selfDestructMinutes: "{n} min",
  selfDestructNote: "Disappears after {time}",
  panic: "Panic clear",
  panicHelp: "Wipe this conversation from this device (Ctrl+Shift+X)",
  panicDone: "Conversation wiped from this device.",
  leave: "Leave",
  stateSending: "Sending",
  stateDelivered: "Delivered",
  stateRead: "Read",
  you: "You",
  friend: "Friend",
  newMessageAnnounce: "New message: {text}",
  noWebRtcTitle: "This browser cannot run GhostChat",
  noWebRtcBody:
    "GhostChat needs WebRTC to connect two browsers directly, and this browser does not provide it. Open the link in a current Firefox, Chrome, Edge or Safari.",
  offlineBanner: "Offline",
  invitesHeading: "Active invites",
  invitesEmpty: "No active invites. Make a new link to let someone join.",
  inviteItem: "Invite {id}",
  inviteTimeLeft: "{hours} h {minutes} min left",
  inviteExpiringSoon: "Expires soon — renew it if your friend has not joined yet.",
  inviteRenew: "Renew",
  inviteRenewLabel: "Renew invite {id}: make a new 24-hour link and revoke this one",
  inviteRevoke: "Revoke",
  inviteRevokeLabel: "Revoke invite {id}",
  inviteRevokedNote: "Invite {id} revoked. Anyone who opens it is told so.",
  inviteRenewedNote: "New link made; the old one no longer works. Send the new one.",
  newInvite: "New link",
  endRoom: "End room",
  endRoomHelp: "Revoke every invite and forget this room.",
  inviteNotKept:
    "Links you gave out keep working until they expire. The app does not keep their secret, so it cannot show them again: make a new link to share.",
  joinInfo: "Invited by {host} · invite valid until {time}",
  verifyLabel: "Verification code",
  verifyHow: "Compare it with your friend",
  verifyHelp: "Compare this code with your friend's over a call or in person. If they differ, someone may be intercepting this connection: leave the chat.",
  verifyChanged: "The verification code changed: this connection's encryption keys are new (a reconnect, or someone else). Compare it with your friend again.",
  refusedUnknown: "The host does not know this invite: it may belong to a room that was closed. Ask for a new link.",
  refusedExpired: "The host says this invite has expired. Ask for a new link.",
  refusedRevoked: "The host revoked this invite. Ask for a new link if you should still join.",
  refusedIntercepted:
    "The connection was closed because it could not be verified: someone may be intercepting this connection, for example a compromised server. Nothing was sent. Try again later or from another network, and compare the verification code with your friend.",
  refusedProtocol:
    "The other side did not follow GhostChat's handshake, so the connection was closed. It may be running another version of GhostChat: reload this page and ask the person who invited you to reload theirs (or to send a new link), then try again.",
  refusedTimeout:
    "Your friend's browser did not confirm the invite in time, so the connection was closed. Try again; if it keeps happening, someone may be interfering with the connection.",
  hostRefusedUnknown: "Someone tried to join with an invite this room does not know; they were told to ask for a new link.",
  hostRefusedExpired: "Someone tried to join with an expired invite; they were told to ask for a new link.",
  hostRefusedRevoked: "Someone tried to join with an invite you revoked; they were told it was revoked.",
  hostRefusedIntercepted:
    "A connection was refused because it could not be verified: someone may be intercepting this connection. Your links still work; ask your friend to try again and compare the verification code.",
  hostRefusedProtocol: "A connection was refused: the other side did not follow GhostChat's handshake.",
  hostRefusedTimeout: "A connection was dropped because it did not confirm its invite in time.",
  insecureTitle: "This page is not opened securely",
  insecureBody: "You opened GhostChat over plain http:// at {host}. Browsers switch some features off on such pages, so parts of GhostChat cannot work here:",
  insecureBodyBlocked:
    "You opened GhostChat over plain http:// at {host}. Browsers switch some features off on such pages, and GhostChat cannot start without them:",
  insecureMissingWebCrypto: "encryption keys and the verification code (WebCrypto)",
  insecureMissingServiceWorker: "installing the app and opening it without a network (service worker)",
  insecureMissingMediaDevices: "voice and video calls (camera and microphone)",
  insecureMissingWakeLock: "keeping the screen on during a chat (wake lock)",
  insecureMissingClipboard: "copying the invite link with one tap (clipboard)",
  insecureNothingMissing: "This browser still offers everything GhostChat needs, but other browsers will not.",
  insecureFixLocalNetwork:
    'What to do: open GhostChat with https:// instead. Whoever runs this server can make a certificate for the local network once and trust it on each device (operator guide, "A LAN without a domain").',
  insecureFixInternet:
    "What to do: open GhostChat with https:// instead. If that does not work, whoever runs this server needs to set up HTTPS (operator guide, section 2).",
  insecureFixThisDevice: "If the server runs on this device, open {url} instead: browsers trust localhost.",
  // ---- group rooms (issue 7) ----
  newGroupRoom: "New group room (up to 12)",
  groupInvite: "Invite people",
  backToChat: "Back to the chat",
  membersHeading: "People in this room",
  membersCount: "{n} in the room, you included",
  memberOnline: "online",
  memberAway: "away",
  memberReconnecting: "reconnecting",
  memberUnreachable: "unreachable for a while — messages wait for it",
  pathDirect: "direct",
  pathRelay: "through {via}",
  groupServerReconnecting: "Lost the server — reconnecting. The chat goes on over the direct connections.",
  groupServerOffline: "The server cannot be reached. The chat goes on; new people cannot join until it is back.",
  groupMessageAnnounce: "{from}: {text}",
  receiptSummary: "Delivered to {delivered} of {total} · read by {read}",
  receiptNobody: "Nobody else is in the room yet",
  receiptFailed: "Not delivered (left the room)",
  ...networkStrings,
  ...callStrings,
  ...telemetryStrings,
  ...fileStrings,
} as const;

export type StringKey = keyof typeof en;
export type Strings = Record<StringKey, string>;

let current: Strings = en;

export function setStrings(strings: Strings): void {
  current = strings;
}

/** The string for `key` with `{name}` placeholders filled. Unknown placeholders stay visible. */
export function t(key: StringKey, vars: Record<string, string | number> = {}): string {
  return format(current[key], vars);
}

export function format(template: string, vars: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in vars ? String(vars[name]) : whole));
}

export function isStringKey(key: string): key is StringKey {
  return Object.prototype.hasOwnProperty.call(en, key);
}
