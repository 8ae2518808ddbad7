export declare const NOT_HASHED: ReadonlySet<string>;
export declare function buildHash(files: ReadonlyMap<string, Uint8Array>): string;
export declare function filesOf(buildJson: string): string[];
export declare function buildHashOf(target: string): Promise<string>;
