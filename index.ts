/**
 * Grey: a deterministic actor runtime for distributed task clusters, built
 * on XState v5 statecharts. This is the package's public surface.
 */

// Simulation kernel, time, randomness, ids
export { Kernel, SimulationTimeoutError, LivelockError, type KernelOptions, type RunUntilOptions } from './system/kernel.js';
export type { Clock, TimerHandle } from './system/clock.js';
export { WallClock, CryptoRandom } from './system/wallClock.js';
export { Random, type RandomSource } from './system/random.js';
export { seededIds, sequentialIds, randomIds, type IdSource } from './system/ids.js';

// Bus and network model
export type { Envelope } from './system/envelope.js';
export { msgpackCodec, EncodeOnce, batchValue, type Codec } from './system/codec.js';
export {
  Bus,
  DROP_REASONS,
  type BusOptions,
  type SendResult,
  type DropReason,
  type BackpressureSignal,
  type PressureSignal,
  type DropSignal,
  type DeliveryRecord,
  type FaultEvent,
  type LinkStats,
  type BusStats,
  type NodeKind,
  type AddNodeOptions,
} from './system/bus.js';
export {
  DEFAULT_LINK_CONFIG,
  validateLinkConfig,
  type LinkConfig,
  type LinkConfigPatch,
  type LatencyConfig,
  type LatencyDistribution,
} from './system/network.js';

// Model-based testing and statechart coverage
export {
  generateModelPaths,
  runModelPath,
  checkModel,
  delayedEventsOf,
  isDelayedEvent,
  ModelMismatchError,
  type ModelPlan,
  type ModelPath,
  type ModelStep,
  type ModelReport,
} from './system/modelPaths.js';
export {
  createTestModel,
  TestModel,
  TestPathError,
  coverableStates,
  type TestModelOptions,
  type TestPath,
  type TestPathParams,
  type TestStep,
  type Exploration,
  type ModelCoverage,
} from './system/testModel.js';
export { MachineCoverage, stateNodesOf, transitionsOf, transitionKey, type CoverageReport, type CoverageCount } from './system/machineCoverage.js';
export { MACHINE_MODELS, checkMachineModel, type MachineModel } from './system/modelPlans/index.js';
export { watchTransitions, formatTransition, describeStateValue, type TransitionRecord } from './system/transitionWatch.js';

// Diagrams of statecharts: Mermaid, Graphviz DOT, SVG and JSON laid out with ELK
export {
  diagramOf,
  diagramJson,
  machineGraph,
  layoutMachineGraph,
  toMermaid,
  toDot,
  toSvg,
  greyStatecharts,
  isStateMachine,
  transitionLabel,
  guardName,
  actionName,
  DIAGRAM_FORMATS,
  DIAGRAM_EXTENSIONS,
  type DiagramFormat,
  type DiagramOptions,
  type DiagramJson,
  type DiagramJsonState,
  type MachineGraph,
  type DiagramState,
  type DiagramStateType,
  type DiagramTransition,
  type DiagramTransitionKind,
  type DiagramLayout,
  type LaidOutEdge,
  type LayoutOptions,
  type TextDiagramOptions,
} from './system/diagram/index.js';

// Statecharts
export * from './machines/index.js';

// Cluster, client, tasks and events
export { Cluster, createCluster, createTestCluster, type ClusterOptions } from './system/cluster.js';
export {
  ClusterClient,
  ClientError,
  InvalidCommandError,
  COMMAND_LIMITS,
  type ClientOptions,
  type ClientLimits,
  type ClientNetwork,
  type ClientClock,
  type ClientBus,
  type ClientErrorCode,
  type Applied,
  type RequestOutcome,
  type TaskHandle,
  type TaskResult,
} from './system/client.js';
export type { CommandLimits } from './system/commandCheck.js';
export { copyValue, isValue, ValueDomainError, type CheckedValue } from './system/valueDomain.js';
export { QUERIES, runQuery, QueryError, type Queries, type QueryName } from './actors/queries.js';
export { CLIENT_REQUEST, CLIENT_REPLY, type ClientRequest, type ClientReply, type RefusalCode } from './actors/clientProtocol.js';
export type { FenceAnswer } from './actors/clusterState.js';
export { resolveTaskSpec, InvalidTaskError, TASK_DEFAULTS, TASK_LIMITS, backoffDelay, type TaskSpec } from './system/taskSpec.js';
export { isFinalTaskEvent, type GreyEvent, type TaskStreamEvent } from './system/events.js';
export { NonRetryableError, HandlerRegistry, type TaskHandler, type HandlerContext } from './actors/taskHandlers.js';
export type { TaskRecord, ProofArtifact, ResolvedTaskSpec, Resources, BackoffPolicy, TaskChange, TaskTransition } from './actors/taskTable.js';
export type { ClusterCommand, ApplyResult, ApplyErrorCode, MemberRecord, TenantRecord, WorkerRecord, TenantQuota, TenantStats } from './actors/clusterState.js';
export { DEFAULT_TENANT_QUOTA, BOOTSTRAP_TENANTS } from './actors/clusterState.js';

// Tenants: quotas, fair share, scoped handles
export { TenantClient, type TenantTaskSpec } from './system/tenantClient.js';
export { drfAllocate, dominantShare, type DrfTenant, type DrfResources } from './actors/drf.js';
export { quotaProblem } from './actors/tenantQuota.js';
export { TENANT_REJECTIONS, LATENCY_BOUNDS_MS, type TenantRejection, type TenantCounters, type TenantUsage, type TenantDenial, type LatencyHistogram } from './actors/tenantBook.js';
export type { BatchCommand, SessionCommand } from './actors/clusterState.js';

// Key-value store and its linearizability checker
export { KvStore, DEFAULT_KV_LIMITS, sameValue, type KvEntry, type KvRead, type KvChange, type KvExpectation, type KvLimits, type KvCompacted } from './actors/kvStore.js';
export { checkHistory, checkKey, stepKey, HistoryRecorder, type HistoryOperation, type KvOperation, type CheckResult } from './system/linearizability.js';

// Raft and node components (for embedding with your own transport and storage)
export { RaftNode, RaftError, DEFAULT_RAFT_OPTIONS, type RaftOptions, type RaftNodeDeps, type RaftStatus, type RaftObserver, type StateMachine, type ConfigChange } from './actors/raftNode.js';
export { MemoryStorage, type Storage, type DurableState, type CrashLoss } from './actors/storage.js';
export { SimulatedDisk, type SyncLatency } from './system/simulatedDisk.js';
export type { NodeTransport } from './actors/clusterNode.js';
export type { LogEntry, RaftConfig, Snapshot, HardState } from './actors/raftTypes.js';
export { ClusterNode, type ClusterNodeDeps, type ProposeOutcome } from './actors/clusterNode.js';
export { Scheduler, type SchedulerOptions, type TenantLimits, type TenantView } from './actors/scheduler.js';

// Real mode: nodes on the wall clock, a durable log, worker threads
export { startNode, connect, type StartNodeOptions, type GreyNode, type ConnectOptions, type RealClient } from './system/embeddedNode.js';
export { startHttpApi, type HttpApi, type HttpApiOptions } from './system/httpApi.js';
export { EventHistory, type EventsCompacted } from './system/eventHistory.js';
export { TableInspection, type ChartInspector, type GreyInspectionEvent } from './actors/chartInspection.js';
export type { NodeStatus } from './actors/clientProtocol.js';
export { LocalNetwork, AddressInUseError } from './system/localNetwork.js';
export { startOpsServer, type OpsServer } from './system/opsServer.js';
export { NodeMetrics, type TransportStats } from './system/nodeMetrics.js';
export { TlsNetwork, PROTOCOL_VERSION, parseAddress, type TlsNetworkOptions, type Refusal, type ConnectionRefusalCode } from './system/tlsNetwork.js';
export { createClusterCa, issueCertificate, identitiesOf, identityUri, type ClusterCa, type TlsIdentity, type CertificateRole, type IssueOptions } from './system/certificates.js';
export { LmdbStorage, StorageFormatError, StorageInUseError, STORAGE_FORMAT_VERSION, type LmdbStorageOptions, type FoundingRecord } from './system/lmdbStorage.js';
export { FoundingVotersError } from './system/foundingVoters.js';
export { WorkerPool, ResourceLimitExceededError, memoryTierMb, heapLimitsOfTier, MIN_THREAD_HEAP_MB, type WorkerPoolOptions } from './system/workerPool.js';
export { pollTask, type TaskReader, type TaskPollOptions } from './system/taskPolling.js';

// Trace, invariants, simulation
export { Trace, readTrace, writeTraceFile, TraceFormatError, TRACE_VERSION, type TraceEvent, type TraceHeader } from './system/trace.js';
export { InvariantChecker, InvariantViolation, checkTrace } from './system/invariants.js';
export { DigestChain, nextDigest, GENESIS_DIGEST } from './system/digest.js';
export { canonicalJson } from './system/canonical.js';
export { runSimulation, DEFAULT_SIMULATION, type SimulationOptions, type SimulationResult } from './system/simulation.js';
export { Nemesis, FAULT_KINDS, parseFaults, type FaultKind } from './system/nemesis.js';

// Failure detection and recovery
export { PhiAccrualDetector, accrualPhi, DEFAULT_PHI_ACCRUAL_CONFIG, type PhiAccrualConfig, type PhiAccrualInput } from './actors/phiAccrualDetector.js';
export { HeartbeatDetector, type FailureDetector, type HeartbeatDetectorConfig, type HeartbeatDetectorInput } from './actors/heartbeatDetector.js';
export { PeerHealth, DEFAULT_PEER_HEALTH, type PeerHealthOptions, type HealthChange } from './actors/peerHealth.js';
export { RecoveryManager, type RecoveryOptions, type RecoveryAction } from './actors/recoveryManager.js';
export { EventLog, type Checkpoint } from './actors/eventLog.js';

// Node security: identities, certificates, attestation, join authentication, message authentication, audit
export { deriveIdentity, identityFromPrivateKey, privateKeyPem, signBytes, verifySignature, publicKeyFingerprint, IdentityError, type NodeIdentity } from './actors/nodeIdentity.js';
export { generateIdentity, saveIdentity, loadIdentity } from './system/nodeIdentityFiles.js';
export {
  createCertificateAuthority, loadCertificateAuthority, issueNodeCertificate, rotateCertificate, parseCertificate, validateCertificate, expectName, toPem,
  CertificateError, ATTESTATION_CLAIMS_OID,
  type CertificateAuthority, type AttestationClaims, type ParsedCertificate, type ValidatedCertificate, type CertificateErrorCode, type IssueRequest,
} from './actors/nodeCertificate.js';
export {
  DcapStyleVerifier, SimulatedTee, softwareEvidence, reportDataFor, trustAtLeast, TRUST_LEVELS, SIMULATED_MEASUREMENT,
  type TrustLevel, type AttestationVerifier, type AttestationVerdict, type AttestationEvidence, type AttestationContext, type HardwareEvidence, type SoftwareEvidence, type TcbStatus,
} from './actors/attestation.js';
export {
  JoinAuthenticator, joinProofBytes, DEFAULT_JOIN_LIMITS, JOIN_HELLO, JOIN_CHALLENGE, JOIN_EVIDENCE, JOIN_RESULT,
  type JoinResult, type JoinRejectionCode, type MemberIdentity, type JoinVerdict, type JoinAuthenticatorLimits, type JoinMembershipView,
} from './actors/joinAuthenticator.js';
export { JoinRequester, type JoinCredentials, type JoinOutcome } from './actors/joinRequester.js';
export { LinkAuthenticator, LINK_HELLO, keyAgreementKey, type LinkHello, type SealedMessage, type LinkDropReason } from './actors/linkAuthenticator.js';
export type { NodeSecurity } from './actors/clusterNode.js';
export { SimulatedSecurity, type SimulatedSecurityOptions, type CredentialOptions } from './system/simulatedSecurity.js';
export {
  AuditLog, MemoryAuditStore, verifyAuditChain, auditRecordHash, AuditInputError, AuditStoreError, AUDIT_LIMITS, AUDIT_GENESIS, AUDIT_KINDS,
  type AuditRecord, type AuditEvent, type AuditKind, type AuditOutcome, type AuditVerification, type AuditHead, type AuditStore, type AuditLimits,
} from './actors/auditLog.js';
export { LmdbAuditStore, readAuditRecords, AuditReadError } from './system/lmdbAuditStore.js';
export { signProof, signProofBatch, ProofSigner, PROOF_SIGNING_MODES, type ProofSignature, type ProofSigningMode } from './actors/proofSignature.js';
export { verifyProof, type ProofVerification, type ProofVerificationCode, type VerifyProofOptions } from './actors/proofVerification.js';
export { realNodeSecurity, codeMeasurement, type RealSecurityOptions } from './system/realSecurity.js';
