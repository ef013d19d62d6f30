// Source: statelyai/xstate examples/mongodb-credit-check-api/machine.ts @ b1811bf77bc2d1a74367328cec7907aa185b70df
// MIT License, Copyright (c) 2015 David Khourshid (see LICENSE.xstate)
// Adapted: the services (MongoDB, zod, random scores; were ./services/machineLogicService.ts) are stand-ins resolving at once; CreditProfile is a type; console.log calls and the layout comment dropped; export renamed to `machine`.
import { fromPromise, assign, setup } from "xstate";

// Stand-ins for ./services/machineLogicService and ./models/creditProfile (MongoDB, zod, random scores): each resolves at once with a value of the shape the original returns.
type CreditProfile = {
  SSN: string;
  LastName: string;
  FirstName: string;
  GavUnionScore: number;
  EquiGavinScore: number;
  GavperianScore: number;
  ErrorMessage: string;
  MiddleScore: number;
  InterestRateOptions: number[];
};
type userCredential = { firstName: string; lastName: string; SSN: string };
async function verifyCredentials(credentials: userCredential) {
  return credentials;
}
async function checkReportsTable(_: { ssn: string; bureauName: string }): Promise<{ creditScore: number } | undefined> {
  return undefined;
}
async function checkBureauService(_: { ssn: string; bureauName: string }): Promise<number> {
  return 700;
}
async function determineMiddleScore(scores: number[]) {
  scores.sort();
  return scores[1];
}
async function generateInterestRate(creditScore: number) {
  return creditScore > 700 ? 3.5 : 5;
}
function saveCreditReport(_: { ssn: string; bureauName: string; creditScore: number }) {}
async function saveCreditProfile(_: CreditProfile) {}

export const machine = setup({
  types: {
    events: {} as {
      type: "Submit";
      SSN: string;
      lastName: string;
      firstName: string;
    },
    context: {} as CreditProfile,
  },

  actors: {
    checkBureau: fromPromise(
      async ({ input }: { input: { ssn: string; bureauName: string } }) =>
        await checkBureauService(input),
    ),
    checkReportsTable: fromPromise(
      async ({ input }: { input: { ssn: string; bureauName: string } }) =>
        await checkReportsTable(input),
    ),
    verifyCredentials: fromPromise(
      async ({ input }: { input: userCredential }) =>
        await verifyCredentials(input),
    ),
    determineMiddleScore: fromPromise(
      async ({ input }: { input: number[] }) =>
        await determineMiddleScore(input),
    ),
    generateInterestRates: fromPromise(
      async ({ input }: { input: number }) => await generateInterestRate(input),
    ),
  },
  actions: {
    saveReport: (
      { context }: { context: CreditProfile },
      params: { bureauName: string },
    ) => {
      saveCreditReport({
        ssn: context.SSN,
        bureauName: params.bureauName,
        creditScore: context.EquiGavinScore,
      });
    },
    emailUser: function ({ context }) {
    },
    saveCreditProfile: async function ({ context }) {
      await saveCreditProfile(context);
    },
    emailSalesTeam: function ({ context, event }, params) {
    },
  },
  guards: {
    allSucceeded: ({ context }) => {
      return (
        context.EquiGavinScore > 0 &&
        context.GavUnionScore > 0 &&
        context.GavperianScore > 0
      );
    },
    gavUnionReportFound: ({ context }) => {
      return context.GavUnionScore > 0;
    },
    equiGavinReportFound: ({ context }) => {
      return context.EquiGavinScore > 0;
    },
    gavperianReportFound: ({ context }) => {
      return context.GavperianScore > 0;
    },
  },
}).createMachine({
  context: {
    SSN: "",
    FirstName: "",
    LastName: "",
    GavUnionScore: 0,
    EquiGavinScore: 0,
    GavperianScore: 0,
    ErrorMessage: "",
    MiddleScore: 0,
    InterestRateOptions: [],
  },
  id: "multipleCreditCheck",
  initial: "creditCheck",
  states: {
    creditCheck: {
      initial: "Entering Information",
      states: {
        "Entering Information": {
          on: {
            Submit: {
              target: "Verifying Credentials",
              reenter: true,
            },
          },
        },

        "Verifying Credentials": {
          invoke: {
            input: ({ event }) => event,
            src: "verifyCredentials",
            onDone: {
              target: "CheckingCreditScores",
              actions: assign({
                SSN: ({ event }) => event.output.SSN,
                FirstName: ({ event }) => event.output.firstName,
                LastName: ({ event }) => event.output.lastName,
              }),
            },
            onError: [
              {
                target: "Entering Information",
                actions: assign({
                  ErrorMessage: ({
                    event,
                  }: {
                    context: any;
                    event: { error: any };
                  }) => "Failed to verify credentials. Details: " + event.error,
                }),
              },
            ],
          },
        },

        CheckingCreditScores: {
          description:
            "Kick off a series of requests to the 3 American Credit Bureaus and await their results",
          states: {
            CheckingEquiGavin: {
              initial: "CheckingForExistingReport",
              states: {
                CheckingForExistingReport: {
                  invoke: {
                    input: ({ context: { SSN } }) => ({
                      bureauName: "EquiGavin",
                      ssn: SSN,
                    }),
                    src: "checkReportsTable",
                    id: "equiGavinDBActor",
                    onDone: [
                      {
                        actions: assign({
                          EquiGavinScore: ({ event }) =>
                            event.output?.creditScore ?? 0,
                        }),
                        target: "FetchingComplete",
                        guard: "equiGavinReportFound",
                      },
                      {
                        target: "FetchingReport",
                      },
                    ],
                    onError: [
                      {
                        target: "FetchingFailed",
                      },
                    ],
                  },
                },
                FetchingComplete: {
                  type: "final",
                  entry: [
                    {
                      type: "saveReport",
                      params: {
                        bureauName: "EquiGavin",
                      },
                    },
                  ],
                },
                FetchingReport: {
                  invoke: {
                    input: ({ context: { SSN } }) => ({
                      bureauName: "EquiGavin",
                      ssn: SSN,
                    }),
                    src: "checkBureau",
                    id: "equiGavinFetchActor",
                    onDone: [
                      {
                        actions: assign({
                          EquiGavinScore: ({ event }) => event.output ?? 0,
                        }),
                        target: "FetchingComplete",
                      },
                    ],
                    onError: [
                      {
                        target: "FetchingFailed",
                      },
                    ],
                  },
                },
                FetchingFailed: {
                  type: "final",
                },
              },
            },
            CheckingGavUnion: {
              initial: "CheckingForExistingReport",
              states: {
                CheckingForExistingReport: {
                  invoke: {
                    input: ({ context: { SSN } }) => ({
                      bureauName: "GavUnion",
                      ssn: SSN,
                    }),
                    src: "checkReportsTable",
                    id: "gavUnionDBActor",
                    onDone: [
                      {
                        actions: assign({
                          GavUnionScore: ({ event }) =>
                            event.output?.creditScore ?? 0,
                        }),
                        target: "FetchingComplete",
                        guard: "gavUnionReportFound",
                      },
                      {
                        target: "FetchingReport",
                      },
                    ],
                    onError: [
                      {
                        target: "FetchingFailed",
                      },
                    ],
                  },
                },
                FetchingComplete: {
                  type: "final",
                  entry: [
                    {
                      type: "saveReport",
                      params: {
                        bureauName: "GavUnion",
                      },
                    },
                  ],
                },
                FetchingReport: {
                  invoke: {
                    input: ({ context: { SSN } }) => ({
                      bureauName: "GavUnion",
                      ssn: SSN,
                    }),
                    src: "checkBureau",
                    id: "gavUnionFetchActor",
                    onDone: [
                      {
                        actions: assign({
                          GavUnionScore: ({ event }) => event.output ?? 0,
                        }),
                        target: "FetchingComplete",
                      },
                    ],
                    onError: [
                      {
                        target: "FetchingFailed",
                      },
                    ],
                  },
                },
                FetchingFailed: {
                  type: "final",
                },
              },
            },
            CheckingGavperian: {
              initial: "CheckingForExistingReport",
              states: {
                CheckingForExistingReport: {
                  invoke: {
                    input: ({ context: { SSN } }) => ({
                      bureauName: "Gavperian",
                      ssn: SSN,
                    }),
                    src: "checkReportsTable",
                    id: "gavperianCheckActor",
                    onDone: [
                      {
                        actions: assign({
                          GavperianScore: ({ event }) =>
                            event.output?.creditScore ?? 0,
                        }),
                        target: "FetchingComplete",
                        guard: "gavperianReportFound",
                      },
                      {
                        target: "FetchingReport",
                      },
                    ],
                    onError: [
                      {
                        target: "FetchingFailed",
                      },
                    ],
                  },
                },
                FetchingComplete: {
                  type: "final",
                  entry: [
                    {
                      type: "saveReport",
                      params: {
                        bureauName: "Gavperian",
                      },
                    },
                  ],
                },
                FetchingReport: {
                  invoke: {
                    input: ({ context: { SSN } }) => ({
                      ssn: SSN,
                      bureauName: "Gavperian",
                    }),
                    src: "checkBureau",
                    id: "checkGavPerianActor",
                    onDone: [
                      {
                        actions: assign({
                          GavperianScore: ({ event }) => event.output ?? 0,
                        }),
                        target: "FetchingComplete",
                      },
                    ],
                    onError: [
                      {
                        target: "FetchingFailed",
                      },
                    ],
                  },
                },
                FetchingFailed: {
                  type: "final",
                },
              },
            },
          },
          type: "parallel",
          onDone: [
            {
              target: "DeterminingInterestRateOptions",
              guard: "allSucceeded",
              reenter: true,
            },
            {
              target: "Entering Information",
              actions: assign({
                ErrorMessage: ({ context }) =>
                  "Failed to retrieve credit scores.",
              }),
            },
          ],
        },

        DeterminingInterestRateOptions: {
          description:
            "After retrieving results, determine the middle score to be used in home loan interest rate decision",
          initial: "DeterminingMiddleScore",
          states: {
            DeterminingMiddleScore: {
              invoke: {
                input: ({
                  context: { EquiGavinScore, GavUnionScore, GavperianScore },
                }) => [EquiGavinScore, GavUnionScore, GavperianScore],
                src: "determineMiddleScore",
                id: "scoreDeterminationActor",
                onDone: [
                  {
                    actions: [
                      assign({
                        MiddleScore: ({ event }) => event.output,
                      }),
                      {
                        type: "saveCreditProfile",
                      },
                    ],
                    target: "FetchingRates",
                  },
                ],
              },
            },
            FetchingRates: {
              invoke: {
                input: ({ context: { MiddleScore } }) => MiddleScore,
                src: "generateInterestRates",
                onDone: [
                  {
                    actions: assign({
                      InterestRateOptions: ({ event }) => [event.output],
                    }),
                    target: "RatesProvided",
                  },
                ],
              },
            },
            RatesProvided: {
              entry: [
                {
                  type: "emailUser",
                },
                {
                  type: "emailSalesTeam",
                },
              ],
              type: "final",
            },
          },
        },
      },
    },
  },
});
