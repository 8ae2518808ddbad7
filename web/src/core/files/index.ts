export { FileTransfers, MemoryStore, MEMORY_LIMIT, hashFile, inThreadHash, HIGH_WATER } from "./transfer";
export type { EndReason, FileEvents, FileError, FileSink, FileSource, LaneSource, SinkStore, StreamHash, TransferState, TransferView } from "./transfer";
export { sanitiseFileName, sanitiseType, sniffPicture, isTextLike, PREVIEW_TYPES, MAX_FILE_NAME } from "./name";
export type { PreviewType } from "./name";
export { stripJpegMetadata } from "./jpeg";
export type { CancelReason } from "./wire";
export { PARTIAL_TTL_MS, isLive, isPartialRecord } from "./resume";
export type { PartialBook, PartialRecord } from "./resume";
