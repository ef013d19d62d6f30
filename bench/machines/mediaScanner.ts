// Source: statelyai/xstate examples/workflow-media-scanner/src/mediaScannerMachine.ts @ b1811bf77bc2d1a74367328cec7907aa185b70df
// MIT License, Copyright (c) 2015 David Khourshid (see LICENSE.xstate)
// Adapted: the four file handlers (were ./fileHandlers.ts, on disk) are stand-ins resolving at once; emailErrors logs nothing; export renamed to `machine` (its input, from src/index.ts, is in index.ts). A cast on event.error (unknown in XState's types) for tsc.
import { assign, fromPromise, setup } from 'xstate';

// Stand-ins for ./fileHandlers (which read, stat and move files on disk): each resolves at once with a value of the shape the original returns.
async function scanDirectories(basePath: string): Promise<string[]> {
  return [`${basePath}/movies`];
}
async function checkFilePermissions(directories: string[]): Promise<{ dirsToEvaluate: string[]; dirsToReport: string[] }> {
  return { dirsToEvaluate: directories, dirsToReport: [] };
}
async function evaluateFiles(dirsToEvaluate: string[], _acceptedFileTypes: string[]): Promise<{ dirsToMove: string[] }> {
  return { dirsToMove: dirsToEvaluate };
}
async function moveFiles(_dirsToMove: string[], _destinationPath: string): Promise<{ message: string }> {
  return { message: 'all files moved successfully' };
}

export const machine = setup({
  types: {
    input: {} as {
      basePath: string;
      destinationPath: string;
    },
    events: {} as { type: 'START_SCAN' } | { type: 'RESTART' },
    context: {} as {
      basePath: string;
      destinationPath: string;
      directoriesToCheck: string[];
      dirsToEvaluate: string[];
      dirsToMove: string[];
      filesToEmail: string[];
      dirsToReport: string[];
      processedFiles: string[];
      acceptedFileTypes: string[];
    }
  },
  actions: {
    emailErrors: () => {}
  },
  actors: {
    scanLibrary: fromPromise(
      async ({ input }: { input: { basePath: string } }) =>
        await scanDirectories(input.basePath)
    ),
    checkFilePermissions: fromPromise(
      async ({
        input: { directoriesToCheck }
      }: {
        input: { directoriesToCheck: string[] };
      }) => await checkFilePermissions(directoriesToCheck)
    ),
    evaluateFiles: fromPromise(
      async ({
        input: { dirsToEvaluate, acceptedFileTypes }
      }: {
        input: { dirsToEvaluate: string[]; acceptedFileTypes: string[] };
      }) => await evaluateFiles(dirsToEvaluate, acceptedFileTypes)
    ),
    moveFiles: fromPromise(
      async ({
        input: { dirsToMove, destinationPath }
      }: {
        input: { dirsToMove: string[]; destinationPath: string };
      }) => await moveFiles(dirsToMove, destinationPath)
    )
  }
}).createMachine({
  context: ({ input }) => ({
    basePath: input.basePath,
    destinationPath: input.destinationPath,
    directoriesToCheck: [],
    dirsToEvaluate: [],
    dirsToMove: [],
    filesToEmail: [],
    dirsToReport: [],
    processedFiles: [],
    acceptedFileTypes: [
      'mp4',
      'mkv',
      'avi',
      'mov',
      'm4v',
      'mpg',
      'mpeg',
      'wmv',
      'flv',
      'ts',
      'mts'
    ]
  }),
  id: 'mediaScanner',
  initial: 'idle',
  states: {
    idle: {
      on: {
        START_SCAN: {
          target: 'Scanning'
        }
      }
    },

    Scanning: {
      description:
        'Scan the media library and check for directories \n\nFor every file we can confirm is a directory, we add it to the context. \n\nIgnore the files already present in the ledger. Those are "known good"',
      invoke: {
        id: 'scanLibrary',
        input: ({ context: { basePath } }) => ({ basePath }),
        src: 'scanLibrary',
        onDone: [
          {
            target: 'CheckingFilePermissions',
            actions: assign({
              directoriesToCheck: ({ event }) => event.output
            })
          }
        ],
        onError: [
          {
            target: 'ReportingErrors'
          }
        ]
      }
    },

    CheckingFilePermissions: {
      description:
        'check the file permissions for all the files we need to scan.\n\nif we do not have read/write permissions, we update the context with the filenames/locations.\n\nif there are no files with read/write permissions, we move to the error state',
      invoke: {
        id: 'checkFilePermissions',
        input: ({ context: { directoriesToCheck } }) => ({
          directoriesToCheck
        }),
        src: 'checkFilePermissions',
        onDone: [
          {
            target: 'EvaluatingFiles',
            actions: assign(({ event }) => {
              return {
                dirsToEvaluate: event.output['dirsToEvaluate'],
                dirsToReport: event.output['dirsToReport']
              };
            })
          }
        ],
        onError: [
          {
            target: 'ReportingErrors',
            actions: assign(({ event }) => {
              return {
                dirsToReport: (event.error as { dirsToReport: string[] })['dirsToReport']
              };
            })
          }
        ]
      }
    },

    ReportingErrors: {
      description:
        'Send a message with error details to the proper destination.\n\nErrors could be the lack of read/write permissions or path not existing',
      entry: {
        type: 'emailErrors'
      },
      on: {
        RESTART: {
          target: 'idle'
        }
      }
    },

    EvaluatingFiles: {
      description:
        'Evaluate the files to determine their resolution. If they are 4K, move them to a new directory',
      invoke: {
        id: 'evaluatingFiles',
        input: ({ context: { dirsToEvaluate, acceptedFileTypes } }) => ({
          dirsToEvaluate,
          acceptedFileTypes
        }),
        src: 'evaluateFiles',
        onDone: [
          {
            target: 'MovingFiles',
            actions: assign(({ event }) => {
              return {
                dirsToMove: event.output['dirsToMove']
              };
            })
          }
        ]
      }
    },

    MovingFiles: {
      description:
        'Move all the files present in context to the destination library',
      invoke: {
        input: ({ context: { dirsToMove, destinationPath } }) => ({
          dirsToMove,
          destinationPath
        }),
        src: 'moveFiles',
        id: 'moveFiles',

        onError: [
          {
            target: 'ReportingErrors'
          }
        ],

        onDone: 'idle'
      }
    }
  }
});
