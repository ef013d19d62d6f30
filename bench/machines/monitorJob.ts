// Source: statelyai/xstate examples/workflow-monitor-job/main.ts @ b1811bf77bc2d1a74367328cec7907aa185b70df
// MIT License, Copyright (c) 2015 David Khourshid (see LICENSE.xstate)
// Adapted: actors are deterministic stand-ins returning the source's sample values (no console.log); context falls back to the demo driver's sample job when no input is given.
import { assign, fromPromise, setup } from 'xstate';

interface Job {
  name: string;
}

// https://github.com/serverlessworkflow/specification/tree/main/examples#monitor-job-example
export const machine = setup({
  types: {
    context: {} as {
      job: Job;
      jobuid: string | undefined;
      jobStatus: 'SUCCEEDED' | 'FAILED' | undefined;
    },
    input: {} as {
      job: Job;
    }
  },
  actors: {
    submitJob: fromPromise(async (_: { input: { name: string } }) => ({
      jobuid: '123'
    })),
    checkJobStatus: fromPromise(async (_: { input: { name: string } }) => ({
      jobStatus: 'SUCCEEDED' as const
    })),
    reportJobSucceeded: fromPromise(async () => undefined),
    reportJobFailed: fromPromise(async () => undefined)
  }
}).createMachine({
  id: 'jobmonitoring',
  initial: 'SubmitJob',

  context: ({ input }) => ({
    job: input?.job ?? { name: 'job1' },
    jobuid: undefined,
    jobStatus: undefined
  }),
  states: {
    SubmitJob: {
      invoke: {
        src: 'submitJob',
        input: ({ context }) => ({
          name: context.job.name
        }),
        onDone: {
          target: 'WaitForCompletion',
          actions: assign({
            jobuid: ({ event }) => event.output.jobuid
          })
        }
      }
    },
    WaitForCompletion: {
      after: {
        5000: 'GetJobStatus'
      }
    },
    GetJobStatus: {
      invoke: {
        src: 'checkJobStatus',
        input: ({ context }) => ({
          name: context.jobuid
        }),
        onDone: {
          target: 'DetermineCompletion',
          actions: assign({
            jobStatus: ({ event }) => event.output.jobStatus
          })
        }
      }
    },
    DetermineCompletion: {
      always: [
        {
          guard: ({ context }) => context.jobStatus === 'SUCCEEDED',
          target: 'JobSucceeded'
        },
        {
          guard: ({ context }) => context.jobStatus === 'FAILED',
          target: 'JobFailed'
        },
        {
          target: 'WaitForCompletion'
        }
      ]
    },
    JobSucceeded: {
      invoke: {
        src: 'reportJobSucceeded',
        onDone: 'End'
      }
    },
    JobFailed: {
      invoke: {
        src: 'reportJobFailed',
        onDone: 'End'
      }
    },
    End: {
      type: 'final'
    }
  }
});
